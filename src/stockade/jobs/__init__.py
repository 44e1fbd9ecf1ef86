"""The job queue: train, import, export and eval run as separate `stockade` processes, each as the user
who submitted it, recorded in the workspace database (table ``jobs``) so they outlive the console."""
