"""The web console (`stockade webui`): server-rendered pages over the same services as the CLI and API.
Static assets (htmx, uPlot) are vendored under static/vendor with their licences: nothing is fetched."""
