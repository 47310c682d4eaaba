"""A visitor's tab without a browser: Streamlit's own websocket protocol, spoken from Python.

What the frontend does, minus the drawing: it connects to `ws://HOST:PORT/_stcore/stream` (subprotocol
`streamlit`, the visitor's cookie in the opening request), asks for a script run with a `BackMsg`
(`rerun_script`: the page, the query string, the widgets' states; a button's click is its widget id
with `trigger_value`), and reads the `ForwardMsg`s that come back: the elements drawn (`delta`), the
pages (`navigation`), the query string the script set (`page_info_changed`), the end of each run
(`script_finished`). A fragment with `run_every` is re-run by the client, not the server: the server
sends `auto_rerun` (its id and interval) and the frontend asks for that fragment's run every interval
until `stop_auto_rerun` or another page; this client does the same, so the server sees the load an
open tab makes.

A page update here is the server's side of one: from the `BackMsg` sent to the `script_finished` of
the whole run it caused, every element received; the browser's drawing is not in it. Used by
`bench/class_capacity.py --client websocket`. Nothing is sent anywhere but the server's 127.0.0.1 address.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

FINISHED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
FRAGMENT_FINISHED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_FRAGMENT_RUN_SUCCESSFULLY")
COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_WITH_COMPILE_ERROR")


class SessionError(RuntimeError):
    """The session closed, the server showed an exception, or a run did not finish in time."""


@dataclass
class PageRun:
    """What one whole script run drew: its text (markdown, alerts, progress, captions, button labels),
    the keys of its buttons, and how long it took from the request."""

    seconds: float
    texts: list[str] = field(default_factory=list)
    button_keys: set[str] = field(default_factory=set)

    def shows(self, text: str) -> bool:
        return any(text in shown for shown in self.texts)


def _key_of(widget_id: str) -> str:
    """A widget id made with a user key ends with `-<key>` (`$$ID-<hash>-<key>`)."""
    return widget_id.split("-", 2)[2] if widget_id.startswith("$$ID-") and widget_id.count("-") >= 2 else widget_id


class StreamlitSession:
    """One tab of one visitor.

    Args:
        server_url: `http://127.0.0.1:PORT`.
        cookies: sent with the websocket's opening request (the visitor's id cookie).
    """

    def __init__(self, server_url: str, cookies: dict[str, str]):
        address = urlparse(server_url)
        if address.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"`server_url` must be a loopback address. Received: server_url={server_url!r}")
        self.stream_url = f"ws://{address.netloc}/_stcore/stream"
        self.cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        self.pages: dict[str, str] = {}  # url path ("train") → page script hash
        self.page_hash = ""
        self.query_string = ""
        self.closed_by_server = False
        self.exceptions: list[str] = []
        self.fragment_ticks = 0
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._auto_reruns: dict[str, asyncio.Task] = {}  # fragment id → the task that asks for its runs
        self._intervals: dict[str, float] = {}  # fragment id → its interval
        self._runs_started = 0
        self._finished: asyncio.Condition | None = None
        self._last_finished: tuple[int, float] = (0, 0.0)  # (runs started when it finished, when)
        self._finished_run: PageRun | None = None  # what the last whole run drew, as it finished
        self._buttons: dict[str, str] = {}  # key → widget id, of the current run
        self._current: PageRun | None = None

    async def open(self, page: str, query_string: str = "", timeout: float = 120.0) -> PageRun:
        """Connect and run `page` (its url path, e.g. "train") with `query_string`, as a first page load."""
        self._finished = asyncio.Condition()
        self._socket = await connect(self.stream_url, subprotocols=["streamlit"], additional_headers={"Cookie": self.cookie},
                                     proxy=None, max_size=None, ping_interval=None, open_timeout=timeout)
        self._reader = asyncio.create_task(self._read())
        self.query_string = query_string
        return await self._run_and_wait(page_name=page, timeout=timeout)

    async def click(self, key: str, timeout: float = 120.0) -> PageRun:
        """Press the button whose key is `key` on the page drawn last; wait for the whole run it causes."""
        widget_id = self._buttons.get(key)
        if widget_id is None:
            raise SessionError(f"no button with key {key!r} on this page (its buttons: {sorted(self._buttons)})")
        return await self._run_and_wait(page_hash=self.page_hash, trigger=widget_id, timeout=timeout)

    async def go_to(self, page: str, timeout: float = 120.0) -> PageRun:
        """Follow the sidebar's link to `page` (its url path): another page of the same session, no reload."""
        if page not in self.pages:
            raise SessionError(f"no page {page!r} in the navigation (its pages: {sorted(self.pages)})")
        self._stop_auto_reruns(list(self._auto_reruns))  # the frontend drops the old page's fragments' timers
        self.query_string = ""
        return await self._run_and_wait(page_hash=self.pages[page], timeout=timeout)

    async def close(self) -> None:
        self._stop_auto_reruns(list(self._auto_reruns))
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _run_and_wait(self, page_hash: str = "", page_name: str = "", trigger: str | None = None,
                            timeout: float = 120.0) -> PageRun:
        started_before = self._runs_started
        sent = time.perf_counter()
        await self._send_rerun(page_hash=page_hash, page_name=page_name, trigger=trigger)
        try:
            async with self._finished:
                await asyncio.wait_for(self._finished.wait_for(
                    lambda: self.closed_by_server or self.exceptions or self._last_finished[0] > started_before), timeout)
        except asyncio.TimeoutError:
            raise SessionError(f"no whole run finished within {timeout:g} s of the request (whole runs started since: "
                               f"{self._runs_started - started_before}, fragment runs finished so far: "
                               f"{self.fragment_ticks})") from None
        if self.closed_by_server:
            raise SessionError("the server closed the session's websocket")
        if self.exceptions:
            raise SessionError(f"the page showed an exception: {self.exceptions[0][:300]}")
        run = self._finished_run
        return PageRun(self._last_finished[1] - sent, run.texts, run.button_keys)

    async def _send_rerun(self, page_hash: str = "", page_name: str = "", fragment_id: str = "", trigger: str | None = None) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = page_hash
        state.page_name = page_name
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        state.widget_states.SetInParent()
        if trigger is not None:
            widget = state.widget_states.widgets.add()
            widget.id = trigger
            widget.trigger_value = True
        await self._socket.send(message.SerializeToString())

    async def _read(self) -> None:
        try:
            async for data in self._socket:
                message = ForwardMsg()
                message.ParseFromString(data)
                await self._handle(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed_by_server = True
            async with self._finished:
                self._finished.notify_all()

    async def _handle(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "new_session":  # a run starts: a fragment's (its ids in the metadata) or the whole page's
            self.page_hash = message.new_session.page_script_hash
            if not message.metadata.run.fragment_ids:  # the whole page: as the frontend, drop the fragments' timers
                self._runs_started += 1
                self._current = PageRun(0.0)
                self._buttons = {}
                self._stop_auto_reruns(list(self._auto_reruns))
        elif kind == "navigation":
            self.pages = {page.url_pathname: page.page_script_hash for page in message.navigation.app_pages}
            self.page_hash = message.navigation.page_script_hash or self.page_hash
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            self._note_element(message.delta.new_element)
        elif kind == "auto_rerun":
            fragment_id, interval = message.auto_rerun.fragment_id, message.auto_rerun.interval
            if self._intervals.get(fragment_id) != interval:  # as the frontend: a new interval replaces the timer
                self._stop_auto_reruns([fragment_id])
                self._intervals[fragment_id] = interval
                self._auto_reruns[fragment_id] = asyncio.create_task(self._keep_rerunning(fragment_id, interval))
        elif kind == "stop_auto_rerun":
            self._stop_auto_reruns(list(message.stop_auto_rerun.fragment_ids))
        elif kind == "script_finished":
            if message.script_finished == FRAGMENT_FINISHED:
                self.fragment_ticks += 1
            elif message.script_finished in (FINISHED, COMPILE_ERROR):
                async with self._finished:
                    current = self._current or PageRun(0.0)
                    self._finished_run = PageRun(0.0, list(current.texts), set(current.button_keys))
                    self._last_finished = (self._runs_started, time.perf_counter())
                    self._finished.notify_all()

    def _note_element(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.exceptions.append(f"{element.exception.type}: {element.exception.message}")
            return
        if self._current is None:
            return
        if kind == "markdown":
            self._current.texts.append(element.markdown.body)
        elif kind == "alert":
            self._current.texts.append(element.alert.body)
        elif kind == "progress":
            self._current.texts.append(element.progress.text)
        elif kind == "button":
            key = _key_of(element.button.id)
            self._buttons[key] = element.button.id
            self._current.button_keys.add(key)
            self._current.texts.append(element.button.label)

    async def _keep_rerunning(self, fragment_id: str, interval: float) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                await self._send_rerun(page_hash=self.page_hash, fragment_id=fragment_id)
        except (asyncio.CancelledError, ConnectionClosed):
            pass

    def _stop_auto_reruns(self, fragment_ids: list[str]) -> None:
        for fragment_id in fragment_ids:
            task = self._auto_reruns.pop(fragment_id, None)
            self._intervals.pop(fragment_id, None)
            if task is not None:
                task.cancel()
