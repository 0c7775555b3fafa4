"""The interface: a function with labelled components, whose calls can be flagged."""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import os
import secrets
import shutil
import tempfile
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from threading import get_ident
from types import TracebackType, WrapperDescriptorType
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import anyio

from .checks import is_async_callable, one_of, positive_int, require_extra, writable_text
from .components import Component, FileData, Textbox, compile_checks, component_from
from .components.values import short_repr
from .errors import (
    FlaggingDisabledError,
    FlaggingError,
    FlagValueError,
    FlagWriteError,
    UnknownPredictionError,
    WrongThreadError,
)
from .events import AWAITED_IN_WRITER, FlagEvent, FlagReceipt, FlagRow, Prediction, in_writer
from .modes import FlaggingMode, resolve_flagging_mode, resolve_flagging_options
from .pipeline import (
    Counters,
    Drainer,
    FlagStatistics,
    FlagWriter,
    Overflow,
    Pipeline,
    PipelineState,
    Subscription,
)
from .read import COMMENT_LABEL, CORRECTION_SUFFIX, load_flagged
from .sinks import CSVLogger, FlaggingCallback, RowResult, SimpleCSVLogger, flag_rows
from .transport import RedisStream, StreamPublisher
from .transport.wire import schema_of

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .web import Auth

__all__ = ["MAX_KEY_LENGTH", "Interface", "check_flagging_dir"]

logger = logging.getLogger("asyncflag")

#: the state in which an interface takes flags (a name looked up once, on the hot path)
_RUNNING = PipelineState.RUNNING

#: which events the pipeline subscribes to (and so writes), by flagging mode
SUBSCRIBED_KINDS: dict[FlaggingMode, tuple[type, ...]] = {
    "auto": (Prediction, FlagEvent),
    "manual": (FlagEvent,),
    "never": (),
}

ComponentSpec = Component | str

#: the longest idempotency key :meth:`Interface.flag` takes, in characters
MAX_KEY_LENGTH = 1_000


class Interface:
    """Wraps ``fn`` so that its predictions can be flagged into a flagging directory.

    Use it as an async context manager: ``async with iface:`` starts the writer;
    leaving the block writes every accepted event to disk, then closes the files.

    :meth:`submit`, :meth:`flag` and :meth:`flag_nowait` must be called in the event
    loop thread that entered ``async with``; from anywhere else they raise
    :class:`WrongThreadError` and change nothing. A worker thread started by
    ``anyio.to_thread.run_sync`` calls back into the loop with
    ``anyio.from_thread.run(iface.flag, values)`` (``from_thread.run_sync`` for
    :meth:`flag_nowait`); any other thread passes ``token=``, the loop's
    ``anyio.lowlevel.current_token()``.

    :param fn: the function to run, sync (run in a worker thread) or async
    :param inputs: a component, a shortcut string (``"text"``...) or a list of them
    :param outputs: likewise
    :param flagging_mode: ``"manual"``, ``"auto"`` or ``"never"``; ``None`` reads
        ``ASYNCFLAG_FLAGGING_MODE``, then ``GRADIO_FLAGGING_MODE``, then uses ``"manual"``
    :param flagging_options: reasons to choose from when flagging: strings, or
        ``(button label, stored value)`` pairs
    :param flagging_dir: where the dataset files and saved files go
    :param flagging_callback: where rows go; a :class:`CSVLogger` by default
    :param examples: a list of input rows, or a flagging directory to read them from
    :param max_pending: how many events may wait for the writer
    :param overflow: what to do when that many are waiting: ``"wait"`` for room,
        or ``"drop"`` the event and count it
    :param max_batch: the most rows written in one batch
    :param cache_size: how many recent predictions can be flagged by id
    :param cache_bytes: how many bytes of values (estimated: file and image sizes,
        text lengths) those recent predictions may hold together; the oldest are
        forgotten past it, and a prediction larger than this is returned but not kept
    :param shutdown_timeout: seconds that leaving ``async with`` may spend writing
        what is queued; what is left after that is failed and reported. Leaving does
        not wait for a sync callback still blocked in a worker thread: the receipts of
        the batch it was writing fail saying the rows may still be written, and its
        ``close()`` gets another ``shutdown_timeout`` (at most a second) before it is
        left to finish in its thread. A callback's own async ``flag_batch`` is
        cancelled then: it should run blocking work with
        ``anyio.to_thread.run_sync(..., abandon_on_cancel=True)``
    :param transport: where rows go instead of a local callback: a
        :class:`~asyncflag.RedisStream`, written to a dataset by ``asyncflag consume``.
        Leaving ``async with`` then hands what is queued to Redis and waits (within
        ``shutdown_timeout``) for the rows whose receipts are still held to be confirmed
    :param flagging_comment: whether a flag may carry a free-text ``comment``: the
        dataset then has a ``comment`` column (a :class:`~asyncflag.Textbox`; an empty
        cell is no comment) after the outputs (and their corrections)
    :param flagging_correction: whether a flag may carry a ``correction`` of the
        outputs: the dataset then has a column ``"<output label> (correction)"`` per
        output, written and read back by a copy of that output's component (files are
        saved as the output's are, under the column's label). A column's "no
        correction" cell is what its component writes for ``None``: empty for most
        components, ``""`` for a Textbox, ``[]`` for a Chatbot or CheckboxGroup,
        ``null`` for JSON; so a correction to the value a component stores for ``None``
        (an empty text, an empty conversation...) cannot be told from no correction
        and is refused at the call
    :param max_comment_length: the longest comment, in characters
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        inputs: ComponentSpec | Sequence[ComponentSpec] | None,
        outputs: ComponentSpec | Sequence[ComponentSpec] | None,
        *,
        flagging_mode: str | None = None,
        flagging_options: Sequence[str] | Sequence[tuple[str, str | None]] | None = None,
        flagging_dir: str | os.PathLike[str] = "flagged",
        flagging_callback: Any = None,
        examples: Sequence[Sequence[Any]] | str | os.PathLike[str] | None = None,
        title: str | None = None,
        description: str | None = None,
        max_pending: int = 10_000,
        overflow: Overflow = "wait",
        max_batch: int = 4096,
        cache_size: int = 1024,
        cache_bytes: int = 64 * 2**20,
        shutdown_timeout: float | None = 30.0,
        transport: RedisStream | None = None,
        flagging_comment: bool = False,
        flagging_correction: bool = False,
        max_comment_length: int = 10_000,
    ) -> None:
        if not callable(fn):
            raise FlagValueError(f"fn must be callable, got {fn!r}")
        self.fn = fn
        self._fn_is_async = is_async_callable(fn)
        self.input_components = _labelled(_as_list(inputs), _parameter_names(fn), "input")
        _check_arity(fn, len(self.input_components))
        self.output_components = _labelled(_as_list(outputs), [], "output")
        for name, flag in (
            ("flagging_comment", flagging_comment),
            ("flagging_correction", flagging_correction),
        ):
            if not isinstance(flag, bool):
                raise FlagValueError(f"{name} must be True or False, got {flag!r}")
        positive_int("max_comment_length", max_comment_length)
        self.flagging_comment = flagging_comment
        self.flagging_correction = flagging_correction
        self.max_comment_length = max_comment_length
        #: the components of the correction columns: a copy of each output's, labelled
        #: ``"<output label> (correction)"`` (empty without ``flagging_correction``)
        self.correction_components: list[Component] = (
            [_correction_of(c) for c in self.output_components] if flagging_correction else []
        )
        #: the component of the comment column, or ``None`` without ``flagging_comment``
        self.comment_component: Component | None = (
            Textbox(COMMENT_LABEL) if flagging_comment else None
        )
        _refuse_taken_labels(
            [*self.input_components, *self.output_components],
            self.correction_components,
            self.comment_component,
        )
        self.flagging_mode: FlaggingMode = resolve_flagging_mode(flagging_mode)
        self.flagging_options = resolve_flagging_options(flagging_options)
        self._option_values = (
            frozenset(value for _, value in self.flagging_options) if flagging_options else None
        )
        self.flagging_dir = Path(flagging_dir)
        if flagging_callback is not None:
            _refuse_gradio_callback(flagging_callback)
            for method in ("setup", "flag"):
                if not callable(getattr(flagging_callback, method, None)):
                    raise FlagValueError(
                        f"flagging_callback must have a {method}() method, "
                        f"got {flagging_callback!r}"
                    )
        if transport is not None and flagging_callback is not None:
            raise FlagValueError(
                "pass a flagging_callback or a transport, not both: with a transport the "
                "consumer writes the dataset"
            )
        self.flagging_callback = flagging_callback if flagging_callback is not None else CSVLogger()
        self.transport = transport
        if transport is not None:
            _cap_files(self.dataset_components, transport.max_file_size)
            schema_of(self.dataset_components)  # only registered components travel: say so now
        self.title = title
        self.description = description
        for name, value in (
            ("max_batch", max_batch),
            ("cache_size", cache_size),
            ("cache_bytes", cache_bytes),
        ):
            positive_int(name, value)
        one_of("overflow", overflow, ("wait", "drop"))
        positive_int("max_pending", max_pending)
        self.max_pending = max_pending
        self.overflow: Overflow = overflow
        self.max_batch = max_batch
        self.cache_size = cache_size
        self.cache_bytes = cache_bytes
        self.examples = load_examples(examples, self.input_components)

        self._cache = _PredictionCache(cache_size, cache_bytes)
        self._counters = Counters()
        # The callback is set up and closed when it gets rows: not in never mode, nor
        # with a transport (the consumer writes the dataset then).
        sink = self.flagging_mode != "never" and transport is None
        close = getattr(self.flagging_callback, "close", None)
        #: the bus, the writer or publisher, and the callback's setup and close; the
        #: mode decides once what it subscribes to
        self._pipeline = Pipeline(
            SUBSCRIBED_KINDS[self.flagging_mode],
            self._drainer,
            counters=self._counters,
            setup=self._setup_callback if sink else None,
            close=close if sink and callable(close) else None,
            max_pending=max_pending,
            overflow=overflow,
            shutdown_timeout=shutdown_timeout,
        )
        #: each a function checking a whole row of values at once (compiled once)
        self._check_row = compile_checks(self.components)
        #: how many values a row holds (inputs then outputs), for the per-flag path
        self._width = len(self.input_components) + len(self.output_components)
        #: the inputs whose component hands ``fn`` something other than the checked
        #: value (an Image's array...): their index, check and preprocess
        self._preprocessors = [
            (index, component.check, component.preprocess)
            for index, component in enumerate(self.input_components)
            if type(component).preprocess is not Component.preprocess
        ]
        self._preprocess_in_thread = any(
            self.input_components[index].preprocess_in_thread for index, _, _ in self._preprocessors
        )
        self._run_dir: Path | None = None
        #: what a preprocess that writes nothing is handed when no run folder exists
        self._no_run_dir = Path(tempfile.gettempdir())
        self._check_input_row = compile_checks(self.input_components)
        self._check_output_row = compile_checks(self.output_components)
        self._new_id = _IdSource()
        self._correction_checks = [c.check for c in self.correction_components]
        #: the value of each correction column that means "no correction", and its cell
        self._no_corrections = tuple(c.check(None) for c in self.correction_components)
        self._no_correction_cells = [
            None if c.holds_files else c.to_cell(value)
            for c, value in zip(self.correction_components, self._no_corrections, strict=True)
        ]
        #: the values of the extra columns of a row without comment or correction
        self._no_extras: tuple[Any, ...] = self._no_corrections + (
            ("",) if self.comment_component is not None else ()
        )
        self._keys = _FlagKeys(cache_size)

    @property
    def shutdown_timeout(self) -> float | None:
        """Seconds that leaving ``async with`` may spend writing what is queued (see the
        class); may be changed at any time, and the next leaving uses the new value."""
        return self._pipeline.shutdown_timeout

    @shutdown_timeout.setter
    def shutdown_timeout(self, seconds: float | None) -> None:
        self._pipeline.shutdown_timeout = seconds

    @property
    def components(self) -> list[Component]:
        """The input components, then the output components."""
        return [*self.input_components, *self.output_components]

    @property
    def dataset_components(self) -> list[Component]:
        """The components of the dataset's value columns: :attr:`components`, then the
        correction columns (with ``flagging_correction``), then the comment column
        (with ``flagging_comment``). Without either, the same as :attr:`components`."""
        extra = [] if self.comment_component is None else [self.comment_component]
        return [
            *self.input_components,
            *self.output_components,
            *self.correction_components,
            *extra,
        ]

    @property
    def running(self) -> bool:
        """Whether the interface is inside ``async with``."""
        return self._pipeline.state is PipelineState.RUNNING

    @property
    def stats(self) -> FlagStatistics:
        """Counts of published, written, dropped, failed and pending events."""
        return self._pipeline.stats

    def health(self) -> dict[str, Any]:
        """Whether flags are being written, for a health check (``/api/health``).

        ``{"healthy": bool, "running": bool, "failing": bool, "failed": int,
        "last_error": str | None, "last_error_at": ISO time | None, "reason": str}``:
        healthy while running and the last row settled was written (or none failed
        yet); ``failing`` from a row that could not be written (the disk, a file save,
        the callback, a file read for the stream) until the next one is written. With a
        transport, also unhealthy while Redis cannot be reached (``"connected": False``:
        rows wait in the queue, then its overflow policy applies).
        """
        counters = self._counters
        running = self.running
        failing = counters.failing
        unreachable = counters.connected is False
        if not running:
            reason = "the interface is not running (outside async with)"
        elif failing:
            reason = f"rows are failing to be written: {counters.last_error}"
        elif unreachable:
            reason = "Redis cannot be reached: rows wait in the queue while it is retried"
        else:
            reason = "ok"
        at = counters.last_error_at
        return {
            "healthy": running and not failing and not unreachable,
            "running": running,
            "failing": failing,
            "connected": counters.connected,
            "failed": counters.failed,
            "last_error": counters.last_error,
            "last_error_at": None if at is None else datetime.fromtimestamp(at, UTC).isoformat(),
            "reason": reason,
        }

    # -- running -----------------------------------------------------------------

    async def __aenter__(self) -> Interface:
        if (
            self.flagging_mode != "never"
            and self.transport is None
            and isinstance(self.flagging_callback, CSVLogger | SimpleCSVLogger)
        ):
            # a flagging_dir that is a file or read-only fails here, naming it, and not
            # at the first flag (nothing is created: the logger makes it at the first row)
            await anyio.to_thread.run_sync(check_flagging_dir, self.flagging_dir)
        await self._pipeline.__aenter__()
        if self._preprocess_in_thread:
            # where inputs handed to fn as file paths live during this run (see run_dir)
            self._run_dir = Path(tempfile.mkdtemp(prefix="asyncflag-run-"))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        try:
            await self._pipeline.__aexit__(exc_type, exc, traceback)
        finally:
            self._cache.clear()
            self._keys.clear()
            run_dir, self._run_dir = self._run_dir, None
            if run_dir is not None:  # after the writer: it may still copy files from there
                await anyio.to_thread.run_sync(
                    functools.partial(shutil.rmtree, run_dir, ignore_errors=True)
                )
        return None

    @property
    def run_dir(self) -> Path | None:
        """The private temporary folder of this run, or ``None`` (not running, or no
        input needs one).

        An input that hands ``fn`` a file path (``Image(type="filepath")``,
        ``Audio(type="filepath")``, ``File()``, ``Video()``) writes the file here, named
        by random hex and a suffix told from its content (never a name a client sent),
        so that ``fn`` may read, move or keep it while the run lasts. Created (mode
        0700) on entering ``async with`` when such an input exists, removed with all it
        holds on leaving, after the writer has saved the flagged files.
        """
        return self._run_dir

    async def _setup_callback(self) -> None:
        await _call_maybe_async(
            self.flagging_callback.setup, self.dataset_components, str(self.flagging_dir)
        )

    def _drainer(self, subscription: Subscription) -> Drainer:
        """What drains the pipeline's queue: a publisher to the transport, or the writer."""
        if self.transport is not None:
            return StreamPublisher(
                self.transport, subscription, self.dataset_components, max_batch=self.max_batch
            )
        return FlagWriter(subscription, self._batch_flagger(), max_batch=self.max_batch)

    def _batch_flagger(self) -> Callable[[Sequence[FlagRow]], Awaitable[list[RowResult]]]:
        callback = self.flagging_callback
        if isinstance(callback, FlaggingCallback) or inspect.iscoroutinefunction(
            getattr(callback, "flag_batch", None)
        ):
            return callback.flag_batch
        return functools.partial(flag_rows, callback)

    # -- serving -------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """Run the interface for a host app: ``Starlette(lifespan=iface.lifespan)``.

        Starlette does not run the lifespans of mounted sub-apps, so an app that mounts
        :meth:`app` passes this as its own lifespan.
        """
        async with self:
            yield

    def app(
        self,
        *,
        auth: Auth | None = None,
        max_body_size: int = 10 * 2**20,
        max_json_depth: int = 64,
        max_json_values: int = 100_000,
        trusted_origins: Sequence[str] = (),
        show_error: bool = False,
        review: bool = False,
    ) -> Starlette:
        """An ASGI app serving the page and the JSON API; its lifespan runs the interface.

        Needs ``pip install 'asyncflag[web]'``. Its POST routes refuse cross-site
        requests from browsers (see :mod:`asyncflag.web`).

        :param auth: ``("user", "password")``, a list of pairs, or ``check(user, password)``:
            HTTP Basic auth on every route; the user's name is stored with their flags,
            and only the user who made a prediction may flag it
        :param max_body_size: the largest request body accepted, in bytes
        :param max_json_depth: how deeply arrays and objects may nest in a JSON body
        :param max_json_values: how many values a JSON body may hold
        :param trusted_origins: other origins whose pages may post to this app, such
            as the public one when a proxy rewrites the ``Host`` header
        :param show_error: show the type and text of any exception from ``fn`` on the
            page (Gradio's ``show_error``); by default only an :class:`~asyncflag.Error`'s
            message is shown, other exceptions as a generic message with a request id
            whose traceback the server logs
        :param review: also serve the review page of the flagged data at ``/flagged``
            (behind ``auth``: flagged data may be private; see :mod:`asyncflag.review`)
        """
        require_extra("web", "iface.app()", "starlette")
        from .web import create_app

        return create_app(
            self,
            auth=auth,
            max_body_size=max_body_size,
            max_json_depth=max_json_depth,
            max_json_values=max_json_values,
            trusted_origins=trusted_origins,
            show_error=show_error,
            review=review,
        )

    def launch(
        self,
        host: str = "127.0.0.1",
        port: int = 7860,
        *,
        auth: Auth | None = None,
        log_level: str = "info",
        show_error: bool = False,
        review: bool = False,
    ) -> None:
        """Serve the app with uvicorn until interrupted; then write every accepted flag and exit.

        :param show_error: as in :meth:`app`
        :param review: also serve the review page of the flagged data at ``/flagged``
        """
        require_extra("web", "iface.launch()", "starlette", "uvicorn")
        import uvicorn

        uvicorn.run(
            self.app(auth=auth, show_error=show_error, review=review),
            host=host,
            port=port,
            log_level=log_level,
        )

    # -- predictions ---------------------------------------------------------------

    async def submit(self, *values: Any) -> Prediction:
        """Run ``fn`` on ``values`` and return the prediction.

        ``fn`` receives each input as its component hands it over, as in Gradio: an
        ``Image`` input's upload as a numpy array (by its ``type=``), an ``Audio``'s as
        ``(sample_rate, samples)``, a ``File``'s or ``Video``'s as a path in
        :attr:`run_dir`; the prediction keeps (and a flag stores) the checked values,
        the uploads themselves.

        In ``auto`` mode the prediction is published for logging; this does not
        wait for the disk (only for room in the queue, unless ``overflow="drop"``).

        :raises FlagValueError: for a wrong number of values, or values (inputs or
            outputs) that the components cannot store
        :raises NotRunningError: outside ``async with iface:``
        :raises WrongThreadError: outside the event loop thread running the interface
        """
        pipeline = self._pipeline
        if get_ident() != pipeline.loop_thread:
            self._refuse_other_thread("submit")
        if pipeline.state is not _RUNNING:
            pipeline.require_running()
        if len(values) != len(self.input_components):
            raise FlagValueError(
                f"expected {len(self.input_components)} input values, got {len(values)}"
            )
        # checked in every mode, never too: a bad value is the caller's error (a 400 on
        # the web), not fn's
        checked_inputs = self._check_input_row(values)
        if self._preprocess_in_thread:
            arguments = await anyio.to_thread.run_sync(self._preprocess, checked_inputs)
        elif self._preprocessors:
            arguments = self._preprocess(checked_inputs)
        else:
            arguments = values
        if self._fn_is_async:
            result = await self.fn(*arguments)
        else:
            result = await anyio.to_thread.run_sync(functools.partial(self.fn, *arguments))
        outputs = self._outputs_of(result)
        if self.flagging_mode == "never":
            return Prediction(self._new_id(), checked_inputs, outputs, datetime.now(UTC))
        prediction = Prediction(
            self._new_id(),
            checked_inputs,
            self._check_output_row(outputs),
            datetime.now(UTC),
        )
        self._cache.put(prediction)
        if self._no_extras and self.flagging_mode == "auto":
            # the row of a prediction has the extra columns too, with nothing in them
            await pipeline.bus.publish(
                FlagEvent(
                    checked_inputs + prediction.outputs + self._no_extras,
                    None,
                    None,
                    prediction.created_at,
                )
            )
        else:
            await pipeline.bus.publish(prediction)  # logged if the mode subscribes to them
        return prediction

    def _preprocess(self, checked: tuple[Any, ...]) -> tuple[Any, ...]:
        """The arguments of ``fn``: each input as its component hands it over (may block:
        then runs in a worker thread)."""
        run_dir = self._run_dir or self._no_run_dir  # only blocking ones write
        arguments = list(checked)
        for index, _, preprocess in self._preprocessors:
            value = arguments[index]
            arguments[index] = None if value is None else preprocess(value, run_dir)
        return tuple(arguments)

    def _outputs_of(self, result: Any) -> tuple[Any, ...]:
        count = len(self.output_components)
        if count == 1:
            return (result,)
        if count == 0:
            return ()
        if not isinstance(result, tuple | list) or len(result) != count:
            raise FlagValueError(
                f"fn must return {count} values (one per output component), got {result!r}"[:300]
            )
        return tuple(result)

    # -- flagging ------------------------------------------------------------------

    async def flag(
        self,
        target: Prediction | str | Sequence[Any],
        option: str | None = None,
        username: str | None = None,
        *,
        comment: str | None = None,
        correction: Sequence[Any] | None = None,
        key: str | None = None,
    ) -> int:
        """Flag a prediction, the id of a recent one, or a list of values, and wait for the row.

        Cancelling the call after it was accepted does not withdraw the row.

        :param target: a :class:`Prediction`, its ``id``, or the input values then
            the output values
        :param option: one of the flagging options' values, when options were given;
            without them, any text (the web API then takes no option at all)
        :param username: who flagged it
        :param comment: free text stored with the flag (``flagging_comment=True`` only);
            ``None`` and ``""`` both mean no comment
        :param correction: what the outputs should have been (``flagging_correction=True``
            only): one value per output, ``None`` for an output not corrected, each
            checked by its output's component as an output value is
        :param key: an idempotency key: a later call with a key already seen (among the
            last ``cache_size`` keys of this interface, in this process: not across
            restarts, replicas or another ``async with``) writes nothing and returns the
            first call's count, waiting for it if needed; its other arguments are not
            looked at. A key whose first call failed (refused, dropped, not written) may
            be used again
        :return: the number of data rows in the dataset file once this row was added
        :raises FlagValueError: for an unknown option, id or value, a comment or
            correction the interface does not take, or a bad key
        :raises FlaggingDisabledError: in ``never`` mode
        :raises FlagWriteError: if the row could not be written
        :raises WrongThreadError: outside the event loop thread running the interface
        :raises FlaggingError: inside a flagging callback, where the writer would wait
            for itself (call :meth:`flag_nowait` there)
        """
        pipeline = self._pipeline
        if get_ident() != pipeline.loop_thread:
            self._refuse_other_thread("flag")
        if in_writer.get():
            raise FlaggingError(AWAITED_IN_WRITER)
        if key is not None:
            first = self._first_receipt(key)
            if first is not None:
                return await first.wait()
        receipt = FlagReceipt()
        event = self._flag_event(target, option, username, receipt, comment, correction)
        if key is None:
            await pipeline.bus.publish(event)
            del event  # no frame a row's error passes may hold the row (see without_frames)
            return await receipt.wait()
        self._keys.put(key, receipt)
        try:
            await pipeline.bus.publish(event)
        except BaseException as exc:
            # Not queued: the calls waiting on this key learn it, and a later one retries.
            self._keys.forget(key, receipt)
            if not receipt.done():
                receipt.set_error(
                    FlaggingError(
                        f"the first flag with this key was not queued ({type(exc).__name__}): "
                        "nothing was written; call again with the same key to retry"
                    )
                )
            raise
        del event
        return await receipt.wait()

    def flag_nowait(
        self,
        target: Prediction | str | Sequence[Any],
        option: str | None = None,
        username: str | None = None,
        *,
        comment: str | None = None,
        correction: Sequence[Any] | None = None,
        key: str | None = None,
    ) -> FlagReceipt:
        """Like :meth:`flag`, but return a receipt at once.

        ``await receipt.wait()`` then gives what :meth:`flag` returns. A ``key`` already
        seen returns the first call's receipt (nothing is queued).

        :raises QueueFullError: if the queue is full and ``overflow="wait"``; with
            ``overflow="drop"`` the receipt fails with :class:`FlagDroppedError` instead
        :raises WrongThreadError: outside the event loop thread running the interface
        """
        pipeline = self._pipeline
        if get_ident() != pipeline.loop_thread:
            self._refuse_other_thread("flag_nowait")
        if key is not None:
            first = self._first_receipt(key)
            if first is not None:
                return first
        receipt = FlagReceipt()
        event = self._flag_event(target, option, username, receipt, comment, correction)
        pipeline.bus.publish_nowait(event)
        if key is not None:
            self._keys.put(key, receipt)
        return receipt

    @overload
    async def flag_many(
        self,
        rows: Iterable[Prediction | str | Sequence[Any]],
        option: str | None = None,
        username: str | None = None,
        *,
        return_exceptions: Literal[False] = False,
    ) -> list[int]: ...

    @overload
    async def flag_many(
        self,
        rows: Iterable[Prediction | str | Sequence[Any]],
        option: str | None = None,
        username: str | None = None,
        *,
        return_exceptions: Literal[True],
    ) -> list[int | FlaggingError]: ...

    async def flag_many(
        self,
        rows: Iterable[Prediction | str | Sequence[Any]],
        option: str | None = None,
        username: str | None = None,
        *,
        return_exceptions: bool = False,
    ) -> list[int] | list[int | FlaggingError]:
        """Flag many rows at once (a bulk import) and wait until every one is written.

        Each row is what :meth:`flag` takes: a :class:`Prediction`, the id of a recent
        one, or the input values then the output values. Every row is checked before any
        is queued, so a bad row raises :class:`FlagValueError` naming its place and
        nothing is written. The rows are then queued in order, waiting for room in the
        queue as :meth:`flag` does (with ``overflow="drop"`` a row that finds it full is
        dropped), with ``option``, ``username`` and one timestamp shared by all of them.

        Cancelling the call while it queues leaves the rows queued so far to be written
        and queues no more; cancelling it while it waits withdraws nothing.

        :param rows: the rows, each as :meth:`flag` takes one
        :param return_exceptions: return, in place of a row's count, the error that kept
            it from being written (as ``asyncio.gather`` does) instead of raising
        :return: each row's count (the number of data rows in its dataset file once it
            was added), in the order given
        :raises FlagValueError: for a row :meth:`flag` would refuse (its index is named),
            or an unknown option
        :raises FlagWriteError: if a row could not be written (the first such row's
            error, its place named; the other rows were written or failed on their own)
        :raises FlaggingDisabledError: in ``never`` mode
        :raises WrongThreadError: outside the event loop thread running the interface
        """
        pipeline = self._pipeline
        if get_ident() != pipeline.loop_thread:
            self._refuse_other_thread("flag_many")
        if in_writer.get():
            raise FlaggingError(AWAITED_IN_WRITER)
        self._check_flag_metadata(option, username)
        if isinstance(rows, str | bytes | bytearray | Prediction):
            raise FlagValueError(
                "flag_many() takes a list of rows (each a Prediction, a prediction id or "
                f"a list of values), got {type(rows).__name__}: for one row, call flag()"
            )
        checked: list[tuple[Any, ...]] = []
        width = len(self.components)
        extras = self._no_extras
        for index, target in enumerate(rows):
            try:
                if (type(target) is list or type(target) is tuple) and len(
                    cast("Sequence[Any]", target)
                ) == width:
                    data = self._check_row(cast("Sequence[Any]", target))
                else:
                    data = self._data_of(target)
            except FlagValueError as exc:
                raise _naming_row(exc, f"row {index}: {exc}", FlagValueError) from exc
            checked.append(data + extras if extras else data)
        stamp = datetime.now(UTC)
        receipts = [FlagReceipt() for _ in checked]
        publish = pipeline.bus.publish
        for data, receipt in zip(checked, receipts, strict=True):
            await publish(FlagEvent(data, option, username, stamp, receipt))
        results: list[int | FlaggingError] = []
        for index, receipt in enumerate(receipts):
            try:
                results.append(receipt.result() if receipt.done() else await receipt.wait())
            except FlaggingError as exc:
                if not return_exceptions:
                    message = f"row {index} of {len(receipts)}: {exc}"
                    raise _naming_row(exc, message, FlagWriteError) from exc
                results.append(exc)
        return results

    def _first_receipt(self, key: Any) -> FlagReceipt | None:
        """The receipt of the first call with ``key``, unless it failed; checks the key
        and, as a call without one would, that flagging is on and the interface runs."""
        if self.flagging_mode == "never":
            raise FlaggingDisabledError("flagging is disabled: this interface's mode is 'never'")
        self._pipeline.require_running()
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise FlagValueError(
                f"key must be a non-empty string of at most {MAX_KEY_LENGTH:,} characters "
                f"(an idempotency key: the same key for the same flag), got {short_repr(key)}"
            )
        return self._keys.get(key)

    def _flag_event(
        self,
        target: Prediction | str | Sequence[Any],
        option: str | None,
        username: str | None,
        receipt: FlagReceipt,
        comment: str | None = None,
        correction: Sequence[Any] | None = None,
    ) -> FlagEvent:
        if option is None and username is None and self._option_values is None:
            # the hot path: the checks _check_flag_metadata makes of a flag without
            # metadata, inlined (a call costs as much as the checks)
            if self.flagging_mode == "never" or self._pipeline.state is not _RUNNING:
                self._check_flag_metadata(option, username)
        else:
            self._check_flag_metadata(option, username)
        extras = (
            self._extras(comment, correction)
            if comment is not None or correction is not None
            else self._no_extras
        )
        target_type = type(target)
        if (target_type is list or target_type is tuple) and len(
            cast("Sequence[Any]", target)
        ) == self._width:  # the hot path, before any ABC check
            data = self._check_row(cast("Sequence[Any]", target))
        else:
            data = self._data_of(target)
        if extras:
            data = data + extras
        return FlagEvent(data, option, username, datetime.now(UTC), receipt)

    def _check_flag_metadata(self, option: str | None, username: str | None) -> None:
        """Refuse a flag in ``never`` mode, outside ``async with``, or with an option or
        username that cannot be stored."""
        if self.flagging_mode == "never":
            raise FlaggingDisabledError("flagging is disabled: this interface's mode is 'never'")
        self._pipeline.require_running()
        if option is not None and not isinstance(option, str):
            raise FlagValueError(f"option must be a string or None, got {option!r}")
        if self._option_values is not None and option not in self._option_values:
            allowed = ", ".join(repr(v) for v in sorted(self._option_values, key=str))
            raise FlagValueError(f"option {option!r} is not one of the flagging options: {allowed}")
        if option is not None:
            writable_text("the option", option)
        if username is not None:
            if not isinstance(username, str):
                raise FlagValueError(f"username must be a string or None, got {username!r}")
            writable_text("the username", username)

    def _data_of(self, target: Prediction | str | Sequence[Any]) -> tuple[Any, ...]:
        """The checked values (inputs then outputs) of what a flag names."""
        if isinstance(target, str):
            prediction = self._cache.get(target)
            if prediction is None:
                raise UnknownPredictionError(
                    f"no recent prediction has the id {target!r}: it was not made here, or "
                    f"it is no longer kept (the last {self.cache_size} predictions, up to "
                    f"{self.cache_bytes:,} bytes of values, can be flagged by id); flag it "
                    "sooner, or pass the Prediction itself"[:400]
                )
            return prediction.inputs + prediction.outputs
        if isinstance(target, Prediction):
            data = target.inputs + target.outputs
            if self._cache.get(target.id) is not target:
                data = self._check_values(data)
            return data
        if isinstance(target, Sequence) and not isinstance(target, bytes | bytearray):
            return self._check_values(tuple(target))
        raise FlagValueError(
            "flag() takes a Prediction, a prediction id or a list of values, "
            f"got {type(target).__name__}"
        )

    def _extras(self, comment: Any, correction: Any) -> tuple[Any, ...]:
        """The checked values of the correction and comment columns of one flag."""
        corrections = self._no_corrections
        if correction is not None:
            if not self.flagging_correction:
                raise FlagValueError(
                    "a correction was given, but this interface does not store corrections: "
                    "create it with Interface(..., flagging_correction=True)"
                )
            corrections = self._check_correction(correction)
        if comment is None:
            return corrections + self._no_extras[len(corrections) :]
        if self.comment_component is None:
            raise FlagValueError(
                "a comment was given, but this interface does not store comments: create "
                "it with Interface(..., flagging_comment=True)"
            )
        if not isinstance(comment, str):
            raise FlagValueError(f"comment must be a string or None, got {short_repr(comment)}")
        if len(comment) > self.max_comment_length:
            raise FlagValueError(
                f"the comment has {len(comment):,} characters, over the limit of "
                f"{self.max_comment_length:,} (max_comment_length): shorten it"
            )
        writable_text("the comment", comment)
        return (*corrections, comment)

    def _check_correction(self, correction: Any) -> tuple[Any, ...]:
        outputs = self.output_components
        if isinstance(correction, str | bytes | bytearray) or not isinstance(correction, Sequence):
            raise FlagValueError(
                f"correction must be a list of {len(outputs)} values (one per output, None "
                f"for an output not corrected), got {short_repr(correction)}"
            )
        if len(correction) != len(outputs):
            raise FlagValueError(
                f"correction must hold {len(outputs)} values (one per output, None for an "
                f"output not corrected), got {len(correction)}"
            )
        checked = []
        for index, value in enumerate(correction):
            if value is None:
                checked.append(self._no_corrections[index])
                continue
            value = self._correction_checks[index](value)
            empty = self._no_correction_cells[index]
            if empty is not None and self.correction_components[index].to_cell(value) == empty:
                label = outputs[index].label
                raise FlagValueError(
                    f"the correction of output {label!r} ({short_repr(value)}) is what "
                    f"{type(outputs[index]).__name__} stores for no value, so it would read "
                    "back as no correction: pass None for an output not corrected"
                )
            checked.append(value)
        return tuple(checked)

    def _check_values(self, values: Sequence[Any]) -> tuple[Any, ...]:
        if len(values) != len(self.components):
            raise FlagValueError(
                f"expected {len(self.components)} values ({len(self.input_components)} "
                f"inputs then {len(self.output_components)} outputs), got {len(values)}"
            )
        return self._check_row(values)

    def _refuse_other_thread(self, call: str) -> None:
        """Raise why ``call`` cannot run here: the interface is not running, or this is
        not its event loop's thread (checked before anything is queued or changed)."""
        self._pipeline.require_running()
        portal = "run_sync" if call == "flag_nowait" else "run"
        raise WrongThreadError(
            f"{call}() was called outside the event loop thread running this interface "
            "(from a worker thread, a plain thread or another event loop), where it "
            "cannot wake the writer: nothing was queued. From a worker thread started by "
            f"anyio.to_thread.run_sync, call anyio.from_thread.{portal}(iface.{call}, ...); "
            "from any other thread, take token = anyio.lowlevel.current_token() in the "
            f"event loop and call anyio.from_thread.{portal}(iface.{call}, ..., token=token)"
        )

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", repr(self.fn))
        return (
            f"<Interface {name} inputs={[c.label for c in self.input_components]} "
            f"outputs={[c.label for c in self.output_components]} mode={self.flagging_mode!r}>"
        )


#: what to pass instead of each of Gradio's flagging callbacks
_GRADIO_CALLBACKS = {
    "CSVLogger": "asyncflag.CSVLogger(): it writes the datasetN.csv Gradio's does, and "
    "continues a folder Gradio wrote",
    "SimpleCSVLogger": "asyncflag.SimpleCSVLogger(): it writes log.csv, as Gradio's does",
    "ClassicCSVLogger": "asyncflag.SimpleCSVLogger() (log.csv) or asyncflag.CSVLogger() "
    "(datasetN.csv with a header); asyncflag reads Gradio 4's log.csv",
    "ChatCSVLogger": "asyncflag.ChatCSVLogger(), with a ChatInterface",
}


def _naming_row(error: FlaggingError, message: str, fallback: type[FlaggingError]) -> FlaggingError:
    """An error of ``error``'s class (``fallback`` for a class whose constructor takes
    more than a message) saying ``message``: one row's error, its place in a bulk call
    named (the row's own error object may be shared by a whole batch: it is not changed)."""
    kind = type(error)
    if isinstance(kind.__init__, WrapperDescriptorType):  # the built-in exceptions' own
        return kind(message)
    return fallback(message)


def _refuse_gradio_callback(callback: Any) -> None:
    """Refuse one of Gradio's own flagging callbacks (``gradio.CSVLogger()``...).

    Gradio's callbacks call each Gradio component's ``flag`` method, which asyncflag's
    components do not have, so every flag would fail: they are refused when the
    interface is built, naming the asyncflag callback to pass instead.

    :raises FlagValueError: for an object of a class defined in the ``gradio`` package
    """
    cls = type(callback)
    if cls.__module__.split(".")[0] != "gradio":
        return
    instead = _GRADIO_CALLBACKS.get(
        cls.__name__,
        "asyncflag.CSVLogger() (to put the folder on the Hugging Face Hub, upload it with "
        "huggingface_hub's upload_folder)",
    )
    raise FlagValueError(
        f"flagging_callback is Gradio's {cls.__name__} ({cls.__module__}): Gradio's "
        "callbacks call the flag() method of Gradio's components, which asyncflag's "
        f"components do not have, so every flag would fail. Pass {instead}"
    )


def load_examples(
    examples: Sequence[Sequence[Any]] | str | os.PathLike[str] | None,
    input_components: Sequence[Component],
) -> list[list[Any]] | None:
    """Example input rows: given as lists, or the inputs of a flagging directory's rows.

    :raises FlagValueError: if ``examples`` names something that is not a directory
    """
    if examples is None:
        return None
    if isinstance(examples, str | os.PathLike):
        directory = Path(examples)
        if not directory.is_dir():
            raise FlagValueError(f"examples: {str(directory)!r} is not a directory")
        count = len(input_components)
        return [list(row.values[:count]) for row in load_flagged(directory, input_components)]
    return [list(example) for example in examples]


class _PredictionCache:
    """The recent predictions, by id, bounded by count and by (estimated) bytes.

    The oldest go first. A prediction larger than the whole byte bound is not kept:
    it can still be flagged by passing the :class:`Prediction`, but not by its id.
    """

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        # Plain dicts and a deque of ids, oldest first: an OrderedDict's insert and
        # eviction cost three times as much. No (prediction, size) pair per entry: a pair
        # would be a tuple the cycle collector tracks for as long as the prediction is
        # kept, and such long-lived objects are what start its full collections.
        # Predictions are not tracked, and a dict of str -> int is not.
        self._entries: dict[str, Prediction] = {}
        self._sizes: dict[str, int] = {}
        self._order: deque[str] = deque()
        self.size = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, prediction_id: str) -> Prediction | None:
        return self._entries.get(prediction_id)

    def put(self, prediction: Prediction) -> None:
        inputs, outputs = prediction.inputs, prediction.outputs
        size = 64 + 16 * (len(inputs) + len(outputs))
        for values in (inputs, outputs):
            for value in values:  # flat values: no walk
                kind = type(value)
                if kind is str:
                    size += len(value)
                elif kind not in _SMALL:
                    size += _estimated_size(value, self.max_bytes) - 16
        if size > self.max_bytes:
            return
        key = prediction.id
        sizes = self._sizes
        if key in sizes:  # the same id again (ids are random: only a caller's own)
            self.size -= sizes[key]
        else:
            self._order.append(key)
        entries = self._entries
        entries[key] = prediction
        sizes[key] = size
        self.size += size
        # the oldest go until both bounds hold (a full cache drops one per put)
        while len(sizes) > self.max_count or self.size > self.max_bytes:
            oldest = self._order.popleft()
            del entries[oldest]
            self.size -= sizes.pop(oldest)

    def clear(self) -> None:
        self._entries.clear()
        self._sizes.clear()
        self._order.clear()
        self.size = 0


class _FlagKeys:
    """The receipts of the recent idempotency keys, the oldest forgotten past ``max_count``.

    Kept in memory, so a key is known within one process's recent keys: not across a
    restart, nor between replicas.
    """

    def __init__(self, max_count: int) -> None:
        self.max_count = max_count
        self._receipts: OrderedDict[str, FlagReceipt] = OrderedDict()

    def get(self, key: str) -> FlagReceipt | None:
        """The first receipt of ``key``, if it has not failed (a failed one is forgotten)."""
        receipt = self._receipts.get(key)
        if receipt is None:
            return None
        if receipt.done():
            try:
                receipt.result()
            except Exception:
                del self._receipts[key]
                return None
        self._receipts.move_to_end(key)
        return receipt

    def put(self, key: str, receipt: FlagReceipt) -> None:
        self._receipts[key] = receipt
        if len(self._receipts) > self.max_count:
            self._receipts.popitem(last=False)

    def forget(self, key: str, receipt: FlagReceipt) -> None:
        if self._receipts.get(key) is receipt:
            del self._receipts[key]

    def clear(self) -> None:
        self._receipts.clear()


#: values that hold nothing beyond their own small object
_SMALL = frozenset({int, float, bool, type(None), complex})
_TEXT = frozenset({str, bytes, bytearray, memoryview})
_CONTAINERS = frozenset({list, tuple, set, frozenset})


def _estimated_size(value: Any, limit: int) -> int:
    """Roughly how many bytes ``value`` holds: what a cache must count, not Python's overhead.

    Bytes and :class:`FileData` count their length, text its length, numpy arrays
    ``nbytes``, PIL images width x height x bands, containers the sum of their items
    (plus a small cost per item). Counting stops once it passes ``limit``. Exact types
    are dispatched first: a prediction of numbers and short text costs a few type checks.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        total += 16
        kind = type(item)
        if kind in _SMALL:
            continue
        if kind in _TEXT:
            total += len(item)
        elif kind in _CONTAINERS:
            stack.extend(item)
        elif kind is FileData:
            total += len(item.data) + len(item.name)
        elif isinstance(item, str | bytes | bytearray | memoryview):  # subclasses
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(getattr(item, "nbytes", None), int):  # a numpy array
            total += item.nbytes
        elif callable(getattr(item, "getbands", None)):  # a PIL image
            width, height = item.size
            total += width * height * len(item.getbands())
    return total


class _IdSource:
    """Unguessable prediction ids (64 random bits), drawn from the OS in bulk.

    One ``urandom`` call serves 1024 ids: a web client can only flag predictions
    whose id it was given, and ids cost a slice rather than a syscall each.
    """

    _BATCH = 1024

    def __init__(self) -> None:
        self._pool = ""
        self._next = 0

    def __call__(self) -> str:
        start = self._next
        if start >= len(self._pool):
            self._pool = secrets.token_hex(8 * self._BATCH)
            start = 0
        self._next = start + 16
        return self._pool[start : start + 16]


def _as_list(spec: ComponentSpec | Sequence[ComponentSpec] | None) -> list[Component]:
    if spec is None:
        return []
    if isinstance(spec, Component | str):
        return [component_from(spec)]
    return [component_from(item) for item in spec]


def _labelled(components: list[Component], names: list[str], kind: str) -> list[Component]:
    """Copies of the components, unlabelled ones named like Gradio names them."""
    labelled = []
    for index, component in enumerate(components):
        component = copy.copy(component)
        if component.label is None:
            if kind == "input":
                component.label = names[index] if index < len(names) else None
            else:
                component.label = "output" if len(components) == 1 else f"output {index}"
        labelled.append(component)
    return labelled


def _correction_of(output: Component) -> Component:
    """The component of an output's correction column: a copy, relabelled."""
    component = copy.copy(output)
    component.label = f"{output.label}{CORRECTION_SUFFIX}"
    return component


def _refuse_taken_labels(
    components: list[Component], corrections: list[Component], comment: Component | None
) -> None:
    """Refuse an input or output whose label is that of a correction or comment column."""
    taken = {c.label for c in components}
    for extra in [*corrections, *([comment] if comment is not None else [])]:
        if extra.label in taken:
            what = "flagging_comment" if extra is comment else "flagging_correction"
            raise FlagValueError(
                f"an input or output is labelled {extra.label!r}, the label of the column "
                f"{what}=True adds: give that component another label"
            )


def _cap_files(components: list[Component], cap: int) -> None:
    """Files travel inside stream entries: apply the transport's cap as each one's max_size."""
    for component in components:
        component.limit_file_size(cap)


def _check_arity(fn: Callable[..., Any], count: int) -> None:
    """Refuse a ``fn`` that cannot take one positional argument per input: every submit
    would fail. ``*args`` takes any number; parameters with defaults may be left out."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: cannot tell
        return
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    keyword_only = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    takes_any = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    name = getattr(fn, "__name__", repr(fn))
    inputs = f"{count} input{'s' if count != 1 else ''}"
    if keyword_only:
        raise FlagValueError(
            f"fn {name}() has required keyword-only parameters ({', '.join(keyword_only)}) "
            f"that the interface cannot fill: it passes its {inputs} as positional "
            "arguments; give them defaults or make them positional"
        )
    if count < len(required) or (count > len(positional) and not takes_any):
        takes = (
            f"{len(required)} to {len(positional)}"
            if len(required) != len(positional)
            else str(len(positional))
        )
        raise FlagValueError(
            f"fn {name}() takes {takes} positional argument(s) but the interface has "
            f"{inputs}, one argument each: every submit would fail. Give fn one "
            "parameter per input (or *args), or change inputs="
        )


def check_flagging_dir(flagging_dir: Path) -> None:
    """Check (blocking) that ``flagging_dir`` is a directory that can be created and
    written to, without creating it: the nearest existing folder on its path must be a
    directory where a file can be made.

    :raises FlagValueError: naming the path and what is wrong with it
    """
    existing = flagging_dir
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            raise FlagValueError(
                f"flagging_dir {str(flagging_dir)!r}: {str(existing)!r} is a broken symlink; "
                "remove it or choose another flagging_dir"
            )
        existing = existing.parent
    if not existing.is_dir():
        what = "is" if existing == flagging_dir else f"cannot be created: {str(existing)!r} is"
        raise FlagValueError(
            f"flagging_dir {str(flagging_dir)!r} {what} a file, not a directory; "
            "choose another flagging_dir or move the file away"
        )
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".asyncflag-check-"):
            pass
    except OSError as exc:
        where = "" if existing == flagging_dir else f" (its folder {str(existing)!r})"
        raise FlagValueError(
            f"flagging_dir {str(flagging_dir)!r}{where} is not writable: "
            f"{exc.strerror or exc}; make it writable or choose another flagging_dir"
        ) from None


def _parameter_names(fn: Callable[..., Any]) -> list[str]:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


async def _call_maybe_async(function: Callable[..., Any], *args: Any) -> Any:
    """Await an async function; run a sync one in a worker thread."""
    if is_async_callable(function):
        return await function(*args)
    result = await anyio.to_thread.run_sync(functools.partial(function, *args))
    if inspect.isawaitable(result):
        return await result
    return result
