"""Load generators for the bench suite: `wrk` (C) with a Lua script, or asyncio in Python.

Every request carries the same JSON body except for the messageIds, which hold a
counter (`RUN-THREAD-N-I`) so the relay never deduplicates them. A `Template` is that
body cut around the messageId; wrk's Lua script and the Python generator glue the
same pieces together, so both send byte-identical requests apart from the counter.

- `max_rate(...)`: as fast as the server answers, N connections, closed loop: wrk when
  installed (`apt-get install wrk`), else the asyncio generator (slower: the figures
  say which one ran).
- `run_python(..., rate=R)`: open loop at R requests/s (the delivery-under-ingest load);
  `run_python(..., total=N)`: exactly N requests (the drain backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MARKER = "__BENCH_MESSAGE_ID__"


@dataclass(frozen=True)
class Template:
    """A request body: head + (pre + messageId + post) joined by sep, `items` times + tail."""

    path: str
    headers: dict[str, str]
    pre: bytes
    post: bytes
    items: int = 1
    head: bytes = b""
    sep: bytes = b","
    tail: bytes = b""

    @classmethod
    def around(cls, item: bytes, path: str, headers: dict[str, str], **kw: object) -> Template:
        """`item` is one event's JSON holding MARKER once, where the messageId goes."""
        pre, found, post = item.partition(MARKER.encode())
        if not found or MARKER.encode() in post:
            raise ValueError(f"the body must hold {MARKER} exactly once")
        return cls(path=path, headers=headers, pre=pre, post=post, **kw)  # type: ignore[arg-type]

    def body(self, tag: str) -> bytes:
        """The body whose item i (from 1) has messageId `{tag}-{i}`."""
        return (
            self.head
            + self.sep.join(
                b"%s%s-%d%s" % (self.pre, tag.encode(), i, self.post)
                for i in range(1, self.items + 1)
            )
            + self.tail
        )


@dataclass
class LoadResult:
    tool: str
    connections: int
    seconds: float
    requests: int  # answered
    errors: int  # non-2xx answers and socket errors
    items_per_request: int
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def ok_requests(self) -> int:
        return max(0, self.requests - self.errors)

    @property
    def items_per_s(self) -> float:
        return self.ok_requests * self.items_per_request / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "connections": self.connections,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "errors": self.errors,
            "events_per_request": self.items_per_request,
            "events_per_s": round(self.items_per_s, 1),
        }


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str | None:
    path = wrk_path()
    if not path:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    return out.split("Copyright")[0].strip() or "wrk"


def _lua_string(data: bytes) -> str:
    text = data.decode()
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    # A newline right after the opening bracket would be dropped: none of ours start with one.
    return f"[{eq}[{text}]{eq}]"


def _lua_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(template: Template, run: str) -> str:
    """Lua for wrk: one body per request from a prebuilt parts table; only the counter
    slots change, then one table.concat."""
    headers = "\n".join(
        f"wrk.headers[{_lua_quote(k)}] = {_lua_quote(v)}" for k, v in template.headers.items()
    )
    return f"""
wrk.method = "POST"
{headers}
local parts = {{ {_lua_string(template.head)} }}
local slots = {{}}
for i = 1, {template.items} do
  if i > 1 then parts[#parts + 1] = {_lua_string(template.sep)} end
  parts[#parts + 1] = {_lua_string(template.pre)}
  parts[#parts + 1] = ""
  slots[i] = #parts
  parts[#parts + 1] = "-" .. i .. {_lua_string(template.post)}
end
parts[#parts + 1] = {_lua_string(template.tail)}
local n = 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
request = function()
  n = n + 1
  local tag = {_lua_quote(run)} .. "-w" .. (tid or 0) .. "-" .. n
  for i = 1, #slots do parts[slots[i]] = tag end
  return wrk.format(nil, {_lua_quote(template.path)}, nil, table.concat(parts))
end
"""


def run_wrk(
    url: str, template: Template, connections: int, seconds: int, run: str, log: list[str]
) -> LoadResult:
    path = wrk_path()
    assert path is not None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(template, run))
    try:
        argv = [
            path,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, seconds)}s",
            "--timeout",
            "30s",
            "-s",
            script.name,
            url,
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    log.append(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")
    return parse_wrk(proc.stdout, connections, template.items)


def parse_wrk(out: str, connections: int, items: int) -> LoadResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not done:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    socket_errors = sum(int(x) for x in socket.groups()) if socket else 0
    requests = int(done.group(1))
    return LoadResult(
        tool="wrk",
        connections=connections,
        seconds=float(done.group(2)) * scale,
        requests=requests,
        errors=errors + min(socket_errors, requests - errors),
        items_per_request=items,
        statuses={"non_2xx": errors, "socket_errors": socket_errors},
    )


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    writer.write(head + b"%d\r\n\r\n" % len(body) + body)
    status_head = await reader.readuntil(b"\r\n\r\n")
    status = int(status_head[9:12])
    length = 0
    for line in status_head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def run_python(
    url: str,
    template: Template,
    connections: int,
    run: str,
    *,
    seconds: float | None = None,
    rate: float | None = None,
    total: int | None = None,
) -> LoadResult:
    """Closed loop for `seconds`, or open loop at `rate` requests/s for `seconds`, or
    exactly `total` requests as fast as they are answered."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"POST {template.path} HTTP/1.1", f"host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in template.headers.items()]
    head = ("\r\n".join(lines) + "\r\ncontent-length: ").encode()
    statuses: dict[str, int] = {}
    answered = 0
    started = time.monotonic()
    deadline = started + seconds if seconds is not None else float("inf")
    issued = 0

    async def connection(index: int) -> None:
        nonlocal answered, issued
        reader, writer = await asyncio.open_connection(host, port)
        n = 0
        try:
            while True:
                if total is not None:
                    if issued >= total:
                        return
                    issued += 1
                if rate is not None:
                    due = started + (n * connections + index) / rate
                    if due >= deadline:
                        return
                    if due > time.monotonic():
                        await asyncio.sleep(due - time.monotonic())
                elif time.monotonic() >= deadline:
                    return
                n += 1
                body = template.body(f"{run}-p{index}-{n}")
                try:
                    status = await _request(reader, writer, head, body)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    key = type(exc).__name__
                    statuses[key] = statuses.get(key, 0) + 1
                    answered += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                answered += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    elapsed = time.monotonic() - started
    errors = sum(n for status, n in statuses.items() if not status.startswith("2"))
    return LoadResult(
        tool="python",
        connections=connections,
        seconds=elapsed,
        requests=answered,
        errors=errors,
        items_per_request=template.items,
        statuses=statuses,
    )


def max_rate(
    url: str,
    template: Template,
    connections: int,
    seconds: int,
    run: str,
    log: list[str],
    tool: str,
) -> LoadResult:
    """Closed-loop maximum with `tool` ("wrk" or "python")."""
    if tool == "wrk":
        return run_wrk(url, template, connections, seconds, run, log)
    return asyncio.run(run_python(url, template, connections, run, seconds=seconds))
