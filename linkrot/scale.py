"""One crawl shared by several workers through Redis (``-s LINKROT_REDIS_URL=redis://host:6379/0``).

Every worker runs the same command.  What they share lives under one Redis
prefix per crawl (``linkrot:<spider>:<hash of site and arguments>``):

- ``run``: the run id; the first worker creates the run row and publishes it, the others join it;
- ``queue``: the pending requests, a sorted set by priority (scrapy-redis's ``Scheduler`` with
  :class:`LeasedQueue`); a worker pops a few at a time and sends what it schedules with its next pop
  (:data:`_EXCHANGE`): round trips are what a shared crawl pays for, each costs about as much CPU as
  a twentieth of a page;
- ``leases:<worker>``: the requests a worker popped and has not finished; a request stays leased
  until the worker has *written* its results, so a worker killed with SIGKILL loses nothing: when
  it has not been heard from for ``LINKROT_LEASE_SECONDS`` (``workers``, a sorted set of heartbeats),
  any other worker puts its leased requests back in the queue;
- ``seen``, ``epoch`` and ``pages``: the frontier's seen-set (:class:`RedisSeen`: ``SADD`` says "new"
  to exactly one worker; each worker remembers what it learned is in it until claims are undone,
  which starts a new epoch) and the page budget's count;
- ``seeding``: present while a worker feeds the queue (the start URL, the backlinks' check queue
  streamed from SQLite), kept alive by its heartbeat; ``fed``: how far the feeding got, ``done`` at
  the end.  When the feeding worker dies (``seeding`` expires before ``fed`` is ``done``), another
  takes the feeding over from ``fed`` (:meth:`Shared.take_over`): a few pages may be queued twice,
  never lost.

- ``token``, ``writers``, ``results``: a worker whose database does not hold the run (another
  machine: :meth:`Shared.join` compares the run's token) pushes its results to ``results``; the
  ``writers`` (the workers whose database holds it) write them (:meth:`Shared.drain`).

A worker stays open (``DontCloseSpider``) while anything is queued, leased or being fed anywhere;
when nothing is, each closes, and the last one to leave runs the after-run steps, closes the run
row and deletes the crawl's keys.  Writes are idempotent on (run, URL) and (run, backlink), so a
request redone after a lease expired never duplicates a row.

scrapy-redis provides the scheduler and the queue's serialization; its ``RedisSpider`` is not used
(Scrapy 2.13+ no longer calls its ``start_requests``), and the scheduler never clears the shared
queue on close: the last worker does, once the crawl is whole.  The Lua scripts touch keys they
compute from the prefix: a single Redis server, not a cluster.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from scrapy.dupefilters import BaseDupeFilter
from scrapy.exceptions import DontCloseSpider
from twisted.internet import task

from .config import ScaleConfig
from .scratch import decode_request, encode_request

try:  # the `scale` extra; without it a process crawls alone
    import redis
    from scrapy_redis.queue import Base
    from scrapy_redis.scheduler import Scheduler as RedisScheduler
except ImportError:  # pragma: no cover - the test extra installs it
    redis = None
    Base = RedisScheduler = object

logger = logging.getLogger(__name__)

_POLL = 0.25  # seconds between looks at the shared queue when this worker has nothing to do
# requests popped (and leased) in one round trip: Scrapy asks for one at a time, as slots free up
_POP_BATCH = 8
# requests this worker schedules are sent to Redis together, with its next pop, at the next poll, when
# this many are waiting, or before anything that needs them queued (a release, a cursor, the idle check)
_PUSH_BATCH = 32

# queue what this worker has buffered (ARGV[3..]: score, request pairs), then pop the ARGV[2] most
# urgent requests and lease them to the worker, in one step: a popped request is never in limbo.
# Returns the seen-set's epoch (see RedisSeen), then a token and a request per request popped.
_EXCHANGE = """
if #ARGV > 2 then redis.call('ZADD', KEYS[1], unpack(ARGV, 3)) end
local out = {tonumber(redis.call('GET', KEYS[3]) or '0')}
local n = tonumber(ARGV[2])
if n == 0 then return out end
local items = redis.call('ZRANGE', KEYS[1], 0, n - 1, 'WITHSCORES')
for i = 1, #items, 2 do
  redis.call('ZREM', KEYS[1], items[i])
  local token = items[i + 1] .. '|' .. ARGV[1] .. '.' .. ((i + 1) / 2)
  redis.call('HSET', KEYS[2], token, items[i])
  out[#out + 1] = token
  out[#out + 1] = items[i]
end
return out
"""
# mark URL hashes seen; the new ones are noted as claimed under the lease ARGV[1], if any (see RedisSeen)
_CLAIM = """
local out = {}
for i = 2, #ARGV do
  local new = redis.call('SADD', KEYS[1], ARGV[i])
  if new == 1 and ARGV[1] ~= '' then redis.call('HSET', KEYS[2], ARGV[i], ARGV[1]) end
  out[i - 1] = new
end
return out
"""
# a page's links at once: for each URL hash ARGV[2 + i] (i = 1..n, n = ARGV[2]), 2 when it is in the
# seen-set; else, when a claim hash ARGV[2 + n + i] is given, 1 when it is claimed now (noted under the
# lease ARGV[1], if any) and 3 when it was taken already; 0 when it is new and not claimed. The claims
# flagged '1' in ARGV[2 + 2n + i] are pages of the site: they are added to the budget's count (KEYS[3]),
# whose total (over all workers) ends the answer
_KNOWN_OR_CLAIM = """
local n = tonumber(ARGV[2])
local out, pages = {}, 0
for i = 1, n do
  if redis.call('SISMEMBER', KEYS[1], ARGV[2 + i]) == 1 then
    out[i] = 2
  else
    local c = ARGV[2 + n + i]
    if c == '' then
      out[i] = 0
    elseif redis.call('SADD', KEYS[1], c) == 1 then
      out[i] = 1
      if ARGV[1] ~= '' then redis.call('HSET', KEYS[2], c, ARGV[1]) end
      if ARGV[2 + 2 * n + i] == '1' then pages = pages + 1 end
    else
      out[i] = 3
    end
  end
end
if pages > 0 then out[n + 1] = redis.call('INCRBY', KEYS[3], pages) else
  out[n + 1] = tonumber(redis.call('GET', KEYS[3]) or '0') end
return out
"""
# workers silent since ARGV[1]: their leased requests go back to the queue (score = the token's prefix),
# the URLs they claimed for them are unclaimed (a new epoch of the seen-set), the results a dead writer
# was writing go back to the results list; workers removed, requests requeued, writers left
_REAP = """
local n = 0
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, w in ipairs(dead) do
  local h = ARGV[2] .. w
  local all = redis.call('HGETALL', h)
  for i = 1, #all, 2 do
    redis.call('ZADD', KEYS[2], string.match(all[i], '^([^|]+)|'), all[i + 1])
    n = n + 1
  end
  redis.call('DEL', h)
  while redis.call('LMOVE', ARGV[3] .. w, KEYS[4], 'RIGHT', 'LEFT') do end
  local claims = redis.call('HKEYS', ARGV[4] .. w)
  for _, c in ipairs(claims) do redis.call('SREM', KEYS[5], c) end
  if #claims > 0 then redis.call('INCR', KEYS[6]) end
  redis.call('DEL', ARGV[4] .. w)
  redis.call('ZREM', KEYS[1], w)
  redis.call('ZREM', KEYS[3], w)
end
return {#dead, n, redis.call('ZCARD', KEYS[3])}
"""
# this worker leaves: its unfinished leases go back to the queue, their claims are undone (a new epoch);
# how many writers are left
_LEAVE = """
local h = ARGV[1]
local all = redis.call('HGETALL', h)
for i = 1, #all, 2 do redis.call('ZADD', KEYS[2], string.match(all[i], '^([^|]+)|'), all[i + 1]) end
redis.call('DEL', h)
local claims = redis.call('HKEYS', ARGV[3])
for _, c in ipairs(claims) do redis.call('SREM', KEYS[4], c) end
if #claims > 0 then redis.call('INCR', KEYS[5]) end
redis.call('DEL', ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return {redis.call('ZCARD', KEYS[3]), #all / 2}
"""
# work left anywhere: queued, leased by a live worker, still being fed, or its feeding not finished
# (while the run is published: the last worker deletes every key), results not written yet
_BUSY = """
local n = redis.call('ZCARD', KEYS[2]) + redis.call('EXISTS', KEYS[3]) + redis.call('LLEN', KEYS[5])
if redis.call('EXISTS', KEYS[6]) == 1 and redis.call('GET', KEYS[4]) ~= 'done' then n = n + 1 end
for _, w in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('HLEN', ARGV[1] .. w) + redis.call('LLEN', ARGV[2] .. w)
end
return n
"""


def crawl_key(spider: str, site: str | None, args: dict[str, Any]) -> str:
    """One prefix per crawl: the same spider, site and arguments share; anything else does not."""
    digest = hashlib.sha1(json.dumps([site, args], sort_keys=True, default=str).encode()).hexdigest()
    return f"linkrot:{spider}:{digest[:12]}"


class RedisSeen:
    """The frontier's seen-set in a Redis set of 8-byte URL hashes, one round trip per page at most.

    A claim made while reading the answer to a leased request is noted under the worker
    (``claims:<worker>``) until that request's results are written: if the worker dies first,
    the claims go with the lease (:data:`_REAP`), and whoever redoes the request claims again.
    Without this, the links of a page a dead worker had claimed, and not yet queued, were
    never crawled by anyone.

    What this worker has learned is in the set is remembered (:attr:`recent`, :attr:`older`: two
    generations of at most ``cache`` hashes each), so a page whose links are all known asks Redis
    nothing: on most sites the same navigation links are on every page.  A URL leaves the shared set
    only when a dead or leaving worker's claims are undone; that starts a new *epoch*, read with
    every pop (:data:`_EXCHANGE`), and a worker that sees one forgets what it remembered
    (:meth:`new_epoch`) before it reads a request popped after the undoing, the redone ones among them.
    """

    def __init__(self, server: Any, key: str, shared: Shared, cache: int = 65_536) -> None:
        self.server, self.key, self.shared = server, key, shared
        self._claim = server.register_script(_CLAIM)
        self._known_or_claim = server.register_script(_KNOWN_OR_CLAIM)
        self.cache = cache
        self.recent: set[bytes] = set()
        self.older: set[bytes] = set()
        self.epoch = 0

    @staticmethod
    def _hash(url: str) -> bytes:
        return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest()

    def _remember(self, hashes: Iterable[bytes]) -> None:
        self.recent.update(hashes)
        if len(self.recent) > self.cache:
            self.older, self.recent = self.recent, set()

    def new_epoch(self, epoch: int) -> None:
        """URLs may have left the shared set since ``self.epoch``: forget what was remembered."""
        if epoch != self.epoch:
            self.epoch = epoch
            self.recent, self.older = set(), set()

    def _lookup(self, urls: Sequence[str]) -> tuple[list[bytes], list[bool], list[int]]:
        """The URLs' hashes, whether each is remembered as seen, and the positions of those to ask about."""
        hashes = [self._hash(u) for u in urls]
        recent, older = self.recent, self.older
        known = [h in recent or h in older for h in hashes]
        return hashes, known, [i for i, k in enumerate(known) if not k]

    def known(self, urls: Sequence[str]) -> list[bool]:
        hashes, answer, ask = self._lookup(urls)
        if ask:
            found = self.server.smismember(self.key, [hashes[i] for i in ask])
            for i, k in zip(ask, found):
                answer[i] = bool(k)
            self._remember(hashes[i] for i, k in zip(ask, found) if k)
        return answer

    def known_or_claim(
        self,
        urls: Sequence[str],
        claims: Sequence[str | None],
        pages: Sequence[bool],
        lease: str | None = None,
    ) -> tuple[list[bool], list[bool], int | None]:
        """A page's links in one round trip (:data:`_KNOWN_OR_CLAIM`), none when all are remembered as
        known: which are known, which were claimed new under their ``claims`` key (None: not to be
        claimed), and the page budget's count over all workers after the new ``pages`` (None when Redis
        was not asked)."""
        hashes, known, ask = self._lookup(urls)
        claimed = [False] * len(urls)
        if not ask:
            return known, claimed, None
        keys = {
            i: b"" if claims[i] is None else hashes[i] if claims[i] == urls[i] else self._hash(claims[i])
            for i in ask
        }
        *answer, total = self._known_or_claim(
            keys=[self.key, self.shared.claims_key, self.shared.key("pages")],
            args=[
                lease or "",
                len(ask),
                *(hashes[i] for i in ask),
                *(keys[i] for i in ask),
                *(b"1" if pages[i] else b"0" for i in ask),
            ],
        )
        new: list[bytes] = []
        seen: list[bytes] = []  # in the set now: the known URLs, and the claims made here or before
        for i, state in zip(ask, answer):
            if state == 2:
                known[i] = True
                seen.append(hashes[i])
            elif state in (1, 3):
                seen.append(keys[i])
                if state == 1:
                    claimed[i] = True
                    new.append(keys[i])
        self._remember(seen)
        if lease:
            self.shared.claimed(lease, new)
        return known, claimed, int(total)

    def claim(self, urls: Sequence[str], lease: str | None = None) -> list[bool]:
        if not urls:
            return []
        hashes = [self._hash(u) for u in urls]
        new = [
            bool(x) for x in self._claim(keys=[self.key, self.shared.claims_key], args=[lease or "", *hashes])
        ]
        self._remember(hashes)  # all in the set now, new or not
        if lease:
            self.shared.claimed(lease, [h for h, n in zip(hashes, new) if n])
        return new


class Shared:
    """This worker's view of a shared crawl: joining, leases, heartbeats, the end."""

    def __init__(self, crawler: Any, config: ScaleConfig, prefix: str) -> None:
        self.crawler = crawler
        self.config = config
        self.prefix = prefix
        # one connection, used by the crawl's thread only: no pool to check out from on each command
        self.server = redis.Redis.from_url(config.redis_url, single_connection_client=True)
        self.server.ping()
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(2).hex()}"
        self.created = False  # this worker created (or resumed) the run and seeds it
        # this worker's database holds the run (a writer); False: a worker on another machine, whose
        # results go through Redis to the writers (:meth:`push_results`, :meth:`drain`)
        self.local = True
        self.feeding = False  # this worker feeds the shared queue (the creator, or who took over)
        # the spider's feeding, from a cursor (``fed``): set by the spider, called on a takeover
        self.feeder: Callable[[str | None], None] | None = None
        self.leased: dict[str, Any] = {}  # token -> request, this worker's leases handed to the engine
        # requests scheduled here, not sent to Redis yet: request -> score
        self.outbox: dict[bytes, float] = {}
        self._seen: RedisSeen | None = None
        self.claims: dict[str, list[bytes]] = {}  # token -> URL hashes claimed while reading its answer
        self._warned_no_writer = False
        self._tokens = 0
        self._exchange = self.server.register_script(_EXCHANGE)
        self._reap = self.server.register_script(_REAP)
        self._busy = self.server.register_script(_BUSY)
        self._leave = self.server.register_script(_LEAVE)
        self.flush_items: Callable[[], None] = lambda: None  # the pipeline's flush (leases end after it)
        self._beat: task.LoopingCall | None = None
        self._poll: task.LoopingCall | None = None

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    # -- joining -------------------------------------------------------------------------------

    def join(
        self,
        create: Callable[[], int],
        is_live: Callable[[int], bool],
        token_of: Callable[[int], str | None],
        share: Callable[[int, str], None],
        wait: float = 600,
    ) -> int:
        """The run id: the published one, or one ``create()`` makes (under a Redis lock) and publishes.

        The first worker marks its run with a random token (``share``) published beside the id; a
        worker whose database holds no run with that token (``token_of``) is on another machine:
        it joins as a worker whose results go through Redis to the writers.
        """
        deadline = time.monotonic() + wait
        while True:
            published, token = self.server.mget(self.key("run"), self.key("token"))
            if published is not None:
                run_id = int(published)
                if token is not None and token_of(run_id) != token.decode():
                    self.local = False
                    self._register()
                    logger.info(
                        "linkrot: worker %s joins run %s of another database: its results go through Redis "
                        "to the workers that write to it",
                        self.worker,
                        run_id,
                    )
                    return run_id
                if is_live(run_id):
                    self._register()
                    logger.info("linkrot: worker %s joins run %s", self.worker, run_id)
                    return run_id
                self.clear()  # the keys of a crawl that finished: start afresh
                continue
            if self.server.set(self.key("creating"), self.worker, nx=True, ex=int(wait)):
                try:
                    # seeding before the run is published: a worker joining now waits for the seeds
                    self.server.set(self.key("seeding"), self.worker, ex=int(self.config.lease))
                    self.server.delete(self.key("fed"))
                    run_id = create()
                    token = os.urandom(8).hex()
                    share(run_id, token)
                    self.server.mset({self.key("token"): token, self.key("run"): run_id})
                finally:
                    self.server.delete(self.key("creating"))
                self.created = self.feeding = True
                self._register()
                logger.info(
                    "linkrot: worker %s created run %d; share it with -s LINKROT_REDIS_URL",
                    self.worker,
                    run_id,
                )
                return run_id
            if time.monotonic() > deadline:
                raise TimeoutError(f"no run published in Redis after {wait:.0f} s")
            time.sleep(0.2)

    def _register(self) -> None:
        self.server.zadd(self.key("workers"), {self.worker: time.time()})
        if self.local:
            self.server.zadd(self.key("writers"), {self.worker: time.time()})
        self._beat = task.LoopingCall(self.heartbeat)
        self._beat.start(max(0.5, self.config.lease / 4), now=False)
        # Scrapy's engine looks at an empty scheduler again only every 5 s; others fill the shared queue
        self._poll = task.LoopingCall(self.wake)
        self._poll.start(_POLL, now=False)
        live = self.server.zcard(self.key("workers"))
        self.crawler.stats.max_value("linkrot/scale/workers", live)
        if live > self.config.workers:
            logger.warning(
                "linkrot: %d workers share this crawl but LINKROT_WORKERS is %d: each takes 1/%d of the "
                "per-host concurrency, together more than the budget",
                live,
                self.config.workers,
                self.config.workers,
            )

    def wake(self) -> None:
        self.send()
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and slot.nextcall is not None:
            slot.nextcall.schedule()

    def heartbeat(self) -> None:
        """Say this worker is alive, keep the seeding mark while feeding, and redo dead workers' requests."""
        self.server.zadd(self.key("workers"), {self.worker: time.time()})
        if self.feeding and self.server.get(self.key("seeding")) == self.worker.encode():
            self.server.expire(self.key("seeding"), int(self.config.lease))
        self.reap()
        self.take_over()

    def take_over(self) -> bool:
        """Feed the queue when the worker feeding it stopped answering before it was done."""
        if self.feeding or self.feeder is None or not self.local:
            return False  # feeding reads the run's database
        fed = self.server.get(self.key("fed"))
        if fed == b"done" or self.server.exists(self.key("seeding")):
            return False
        if not self.server.set(self.key("seeding"), self.worker, nx=True, ex=int(self.config.lease)):
            return False  # another worker took it over first
        self.feeding = True
        cursor = None if fed is None else fed.decode()
        logger.warning(
            "linkrot: the worker feeding the shared queue stopped answering; worker %s feeds it on from %s",
            self.worker,
            cursor or "the start",
        )
        self.crawler.stats.inc_value("linkrot/scale/feeding_taken_over")
        self.feeder(cursor)
        return True

    def fed(self, cursor: str) -> None:
        """Everything up to ``cursor`` is in the shared queue: a takeover starts after it."""
        self.send()
        self.server.set(self.key("fed"), cursor)

    def reap(self) -> tuple[int, int]:
        """Remove the workers silent for a lease and queue their requests again: (removed, writers left)."""
        removed, requeued, left = self._reap(
            keys=[
                self.key("workers"),
                self.key("queue"),
                self.key("writers"),
                self.key("results"),
                self.key("seen"),
                self.key("epoch"),
            ],
            args=[
                time.time() - self.config.lease,
                self.key("leases:"),
                self.key("writing:"),
                self.key("claims:"),
            ],
        )
        if requeued:
            self.crawler.stats.inc_value("linkrot/scale/requeued", requeued)
            logger.warning(
                "linkrot: %d requests of a worker that stopped answering are queued again", requeued
            )
        return int(removed), int(left)

    def seeded(self) -> None:
        """This worker has fed everything into the queue."""
        if self.feeding:
            self.send()
            self.server.set(self.key("fed"), "done")
            self.server.delete(self.key("seeding"))
            self.feeding = False

    # -- the frontier, the queue and the leases ----------------------------------------------------

    def seen(self) -> RedisSeen:
        self._seen = RedisSeen(self.server, self.key("seen"), self)
        return self._seen

    @property
    def claims_key(self) -> str:
        return self.key(f"claims:{self.worker}")

    def claimed(self, lease: str, hashes: list[bytes]) -> None:
        """URLs claimed while reading the answer to a leased request (forgotten when it is released)."""
        if hashes:
            self.claims.setdefault(lease, []).extend(hashes)

    def _end_leases(self, pipe: Any, tokens: list[str]) -> None:
        """Add to ``pipe``: the requests scheduled so far are queued, these leases end, and the claims
        made under them stand."""
        if self.outbox:
            pipe.zadd(self.key("queue"), self.outbox)
        pipe.hdel(self.key(f"leases:{self.worker}"), *tokens)
        hashes = [h for token in tokens for h in self.claims.pop(token, ())]
        for start in range(0, len(hashes), 1000):
            pipe.hdel(self.claims_key, *hashes[start : start + 1000])
        for token in tokens:
            self.leased.pop(token, None)

    def count_pages(self, n: int) -> int:
        return int(self.server.incrby(self.key("pages"), n))

    def backlog(self) -> bool:
        """More than ``LINKROT_SHARED_QUEUE_AHEAD`` requests wait in the shared queue (the feeder waits)."""
        return self.server.zcard(self.key("queue")) + len(self.outbox) > self.config.ahead

    def push(self, data: bytes, score: float) -> None:
        """Schedule a request (sent to Redis with the next pop, or sooner: see :data:`_PUSH_BATCH`)."""
        self.outbox[data] = score
        if len(self.outbox) >= _PUSH_BATCH:
            self.send()

    def send(self) -> None:
        """Queue in Redis the requests scheduled here."""
        if self.outbox:
            self.exchange(0)

    def exchange(self, n: int) -> list[tuple[str, bytes]]:
        """Queue the requests scheduled here, pop and lease up to ``n``, in one round trip.

        The answer carries the seen-set's epoch: when claims were undone since the last one, the
        remembered part of the seen-set is forgotten before any popped request is read.
        """
        self._tokens += 1
        pairs = [x for data, score in self.outbox.items() for x in (score, data)]
        epoch, *popped = self._exchange(
            keys=[self.key("queue"), self.key(f"leases:{self.worker}"), self.key("epoch")],
            args=[f"{self.worker}-{self._tokens}", n, *pairs],
        )
        self.outbox = {}  # queued (not before: a failed round trip keeps them)
        if self._seen is not None:
            self._seen.new_epoch(int(epoch))
        return [(popped[i].decode(), popped[i + 1]) for i in range(0, len(popped), 2)]

    def finished_leases(self) -> list[str]:
        """Leases whose request has been through the engine: its results are in the pipeline's buffer
        (take this list before the buffer is written, release it after)."""
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine is not None else None
        busy = slot.inprogress if slot is not None else set()
        return [token for token, request in self.leased.items() if request not in busy]

    def release(self, tokens: list[str]) -> None:
        """The results of these requests are written: their leases end, their claims stand."""
        if tokens:
            pipe = self.server.pipeline(transaction=True)
            self._end_leases(pipe, tokens)
            pipe.execute()
            self.outbox = {}  # queued with them

    def push_results(self, payload: bytes, tokens: list[str]) -> None:
        """A worker of another machine: its results to the writers, and the leases they end, in one step."""
        pipe = self.server.pipeline(transaction=True)
        pipe.rpush(self.key("results"), payload)
        if tokens:
            self._end_leases(pipe, tokens)
        pipe.execute()
        if tokens:
            self.outbox = {}  # queued with them

    def drain(self, write: Callable[[bytes], None]) -> None:
        """A writer: write the results other machines' workers sent, one batch at a time.

        A batch is moved to ``writing:<worker>`` while it is written: if this worker dies, the
        others put it back (:meth:`reap`); the writes are upserts, so a batch written twice is one.
        """
        mine = self.key(f"writing:{self.worker}")
        while (payload := self.server.lmove(self.key("results"), mine, "LEFT", "RIGHT")) is not None:
            write(payload)
            self.server.delete(mine)

    def busy(self) -> int:
        self.send()
        self.reap()
        if not self.local:
            self.check_writers()
        return int(
            self._busy(
                keys=[
                    self.key("workers"),
                    self.key("queue"),
                    self.key("seeding"),
                    self.key("fed"),
                    self.key("results"),
                    self.key("run"),
                ],
                args=[self.key("leases:"), self.key("writing:")],
            )
        )

    def check_writers(self) -> None:
        """Say once when no worker that writes to the run's database is left (results wait in Redis)."""
        if self.server.zcard(self.key("writers")) or self._warned_no_writer:
            return
        self._warned_no_writer = True
        logger.warning(
            "linkrot: no worker writing to the run's database is left: results wait in Redis until one "
            "is started on the machine that holds it (the same command, its LINKROT_DB)"
        )

    def on_idle(self) -> None:
        """spider_idle: write what is buffered (it ends this worker's leases), then stay while work is left."""
        self.flush_items()
        if self.busy():
            raise DontCloseSpider

    def once(self, name: str) -> bool:
        """True for exactly one writer of the crawl (a step done once, e.g. crawling the sitemaps' orphans)."""
        return self.local and bool(self.server.set(self.key(f"once:{name}"), self.worker, nx=True))

    # -- the end -------------------------------------------------------------------------------

    def leave(self, finished: bool) -> bool:
        """This worker is done; True when it is the one that closes the run (the last writer).

        Its unfinished leases go back to the queue.  When the crawl is finished, the others are
        finishing too, or dead: wait for them to leave or for their heartbeats to expire (a worker
        killed a moment ago still looks alive), then exactly one closes the run.
        """
        for call in (self._beat, self._poll):
            if call is not None and call.running:
                call.stop()
        self.send()  # a request scheduled and not sent: redone anyway if its lease is undone, never lost
        left, requeued = self._leave(
            keys=[
                self.key("workers"),
                self.key("queue"),
                self.key("writers"),
                self.key("seen"),
                self.key("epoch"),
            ],
            args=[self.key(f"leases:{self.worker}"), self.worker, self.claims_key],
        )
        if requeued:
            logger.info("linkrot: %d requests this worker had not finished are queued again", requeued)
        if not self.local:
            return False  # the run is closed by a worker that writes to its database
        if left == 0:
            return True  # the last to leave (atomically: only one worker sees none left)
        deadline = time.monotonic() + self.config.lease + 1
        while finished and time.monotonic() < deadline:
            time.sleep(0.25)
            removed, left = self.reap()
            if left == 0:
                # none left: it closes when it removed the last (dead) ones; else the last to leave does
                return removed > 0
        return False

    def clear(self) -> None:
        """Delete every key of the crawl (the last worker, once the run is closed)."""
        keys = list(self.server.scan_iter(match=f"{self.prefix}:*", count=1000))
        if keys:
            self.server.delete(*keys)

    def close(self) -> None:
        self.server.close()


class LeasedQueue(Base):
    """scrapy-redis's priority queue, but a pop is a lease (see :class:`Shared`), not a removal.

    Requests are popped :data:`_POP_BATCH` at a time and handed to the engine one by one; those
    not handed yet are leased like the rest, so a worker that dies or leaves loses none of them.
    """

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        from .run import Run

        self.shared: Shared = spider.crawler.get_extension(Run).scale
        self.popped: deque[tuple[str, bytes]] = deque()

    def __len__(self) -> int:
        return self.server.zcard(self.key) + len(self.popped) + len(self.shared.outbox)

    def _encode_request(self, request: Any) -> bytes:
        return self.serializer.dumps(encode_request(self.spider, request))

    def _decode_request(self, encoded_request: bytes) -> Any:
        return decode_request(self.spider, self.serializer.loads(encoded_request))

    def push(self, request: Any) -> None:
        request.meta.pop("scale_lease", None)  # a retried request is leased again when popped
        self.shared.push(self._encode_request(request), -request.priority)

    def pop(self, timeout: int = 0) -> Any:
        if not self.popped:
            self.popped.extend(self.shared.exchange(_POP_BATCH))
            if not self.popped:
                return None
        token, data = self.popped.popleft()
        request = self._decode_request(data)
        request.meta["scale_lease"] = token
        self.shared.leased[token] = request
        return request


class SharedScheduler(RedisScheduler):
    """scrapy-redis's scheduler on the crawl's keys; it never clears the shared queue when it closes."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedScheduler:
        from .run import Run

        shared: Shared = crawler.get_extension(Run).scale
        scheduler = cls(
            server=shared.server,
            persist=True,
            queue_key=shared.key("queue"),
            queue_cls="linkrot.scale.LeasedQueue",
            dupefilter=BaseDupeFilter(),  # linkrot's frontier decides what is new (every request is dont_filter)
        )
        scheduler.stats = crawler.stats
        return scheduler

    def close(self, reason: str) -> None:
        pass  # the queue is the crawl's, not this worker's
