"""The console's FastAPI application: login, CSRF, language, and the pages (routes in pages.py).
Login sessions are the service ``governance.web_sessions``; this module reads forms and sets cookies.

Every page opens the workspace as the logged-in user (``Actor``), checks the role's permission with
``governance.roles.require`` and calls the same services as the CLI; state changes happen in services,
which write the audit records. Jobs submitted here are started by a dispatcher thread of this process
(``jobs.service.dispatch``) and run in their own processes, so they outlive the console."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from stockade.core.errors import StockadeError
from stockade.governance import web_sessions as sessions
from stockade.security.principal import AccessDenied, AuthenticationFailed
from stockade.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from stockade.workspace.service import Actor, WorkspaceContext, open_workspace

HERE = Path(__file__).parent
SESSION_COOKIE = "stockade_console"
LOGIN_CSRF_COOKIE = "stockade_login_csrf"
LANGUAGE_COOKIE = "stockade_lang"


@dataclass
class ConsoleSettings:
    workspace: Path
    tls: bool = False
    idle_minutes: float = 30.0
    max_upload_bytes: int = 200 * 1024 * 1024
    max_jobs: int = 1
    dispatch_interval_s: float = 1.0
    # server folders the Datasets page may import from (a file, or a LLaMA-Factory dataset_info.json);
    # nothing outside them is listed or imported
    import_roots: tuple[Path, ...] = ()


class NotLoggedIn(Exception):
    """A page was asked for without a live session: the browser goes to the login page."""


class CsrfRefused(AccessDenied):
    """A form came without this session's CSRF token."""


def client_source(request: Request) -> str:
    return f"web:{request.client.host if request.client else 'unknown'}"


def language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


class Console:
    """What the routes share: settings, templates, the workspace opener and the dispatcher thread."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dispatch_errors: list[str] = []
        from stockade.web.playground import Playground

        self.playground = Playground()

    @contextmanager
    def workspace(self, actor: Actor) -> Iterator[WorkspaceContext]:
        context = open_workspace(self.settings.workspace, actor=actor)
        try:
            yield context
        finally:
            context.close()

    def anonymous(self, request: Request) -> Actor:
        return Actor(name="anonymous", source=client_source(request))

    @staticmethod
    def is_polling(request: Request) -> bool:
        """A page refreshing itself (htmx ``every``, the loss chart's fetch): not a sign of a person."""
        if request.method != "GET":
            return False
        return request.headers.get("HX-Trigger-Name") is None and (
            request.headers.get("HX-Request") == "true" or request.url.path.endswith("/metrics")
        )

    def user(self, request: Request) -> sessions.WebUser:
        token = request.cookies.get(SESSION_COOKIE)
        with self.workspace(self.anonymous(request)) as context:
            user = sessions.current_user(
                context, token, idle_minutes=self.settings.idle_minutes, touch=not self.is_polling(request)
            )
        if user is None:
            raise NotLoggedIn
        return user

    @contextmanager
    def as_user(self, request: Request, user: sessions.WebUser) -> Iterator[WorkspaceContext]:
        with self.workspace(Actor(name=user.name, role=user.role, source=client_source(request))) as context:
            yield context

    def check_csrf(self, request: Request, user: sessions.WebUser, sent: str | None) -> None:
        if not sent or not hmac.compare_digest(sent, user.csrf_token):
            with self.as_user(request, user) as context:
                sessions.record_csrf_refusal(context, request.url.path)
            raise CsrfRefused(
                "the form's CSRF token is missing or wrong",
                where=request.url.path,
                fix="reload the page and send the form again",
            )

    async def posted(self, request: Request, user: sessions.WebUser, allowed: set[str]) -> FormData:
        """A form with this session's CSRF token and only the ``allowed`` fields (others refused by name)."""
        from stockade.web.forms import check_fields

        form = await request.form()
        self.check_csrf(request, user, str(form.get("csrf", "")))
        check_fields(form, allowed)
        return form

    def render(
        self, request: Request, template: str, user: sessions.WebUser | None, status: int = 200, **values: Any
    ):
        lang = language(request)
        return self.templates.TemplateResponse(
            request,
            template,
            {"user": user, "lang": lang, "t": lambda key: translate(lang, key), **values},
            status_code=status,
        )

    # the dispatcher: starts queued jobs while fewer than max_jobs run; a restart re-reads the table
    def _dispatch_loop(self) -> None:
        from stockade.jobs.service import dispatch

        while not self._stop.is_set():
            try:
                with self.workspace(Actor(name="stockade-console", source="web:dispatcher")) as context:
                    dispatch(context, max_running=self.settings.max_jobs)
            except Exception as exc:  # keep serving pages; the error is shown on the jobs page
                self.dispatch_errors[:] = [f"{exc.__class__.__name__}: {exc}"]
            self._stop.wait(self.settings.dispatch_interval_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._dispatch_loop, name="stockade-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def set_session_cookie(response: Response, token: str, tls: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=tls, path="/")


def create_app(settings: ConsoleSettings, *, dispatcher: bool = True) -> FastAPI:
    console = Console(settings)
    open_workspace(settings.workspace, actor=Actor(name="stockade-console")).close()  # fail early, clearly

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if dispatcher:
            console.start()
        yield
        console.stop()
        console.playground.close()

    app = FastAPI(
        title="Stockade console", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.console = console
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = (
            "no-store" if not request.url.path.startswith("/static") else "max-age=3600"
        )
        return response

    @app.exception_handler(NotLoggedIn)
    async def to_login(request: Request, _exc: NotLoggedIn):
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StockadeError)
    async def stockade_error(request: Request, exc: StockadeError):
        status = 403 if isinstance(exc, AccessDenied) else 400
        template = "error_fragment.html" if request.headers.get("HX-Request") else "error.html"
        return console.render(request, template, None, status=status, message=str(exc), denied=status == 403)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, error: str | None = None):
        token = secrets.token_urlsafe(24)
        response = console.render(request, "login.html", None, login_csrf=token, error=error)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=settings.tls)
        return response

    @app.post("/login")
    async def login_submit(request: Request):
        form = await request.form()
        sent, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise CsrfRefused(
                "the login form's CSRF token is missing or wrong", where="/login", fix="reload the page"
            )
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        with console.workspace(console.anonymous(request)) as context:
            try:
                token = sessions.login(context, name, password)
            except (AccessDenied, AuthenticationFailed) as exc:
                return console.render(
                    request, "login.html", None, status=401, login_csrf=expected, error=exc.what
                )
        # the previous cookie (if any, perhaps planted) is ended: the new session has a new token
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            with console.workspace(Actor(name=name, source=client_source(request))) as context:
                sessions.logout(context, old)
        response = RedirectResponse("/", status_code=303)
        set_session_cookie(response, token, settings.tls)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    async def logout(request: Request):
        user = console.user(request)
        form = await request.form()
        console.check_csrf(request, user, str(form.get("csrf", "")))
        with console.as_user(request, user) as context:
            sessions.logout(context, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/language/{chosen}")
    def switch_language(chosen: str, next: str = "/"):
        if chosen not in LANGUAGES:
            chosen = DEFAULT_LANGUAGE
        target = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(LANGUAGE_COOKIE, chosen, samesite="strict", secure=settings.tls)
        return response

    from stockade.web import pages

    pages.register(app, console)
    return app
