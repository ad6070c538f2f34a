"""Scrapy settings of the linkrot project (``scrapy.cfg`` and the egg's entry point name this module).

Every ``LINKROT_*`` setting is documented in docs/settings.md.  Override any of them
per run with ``-s NAME=VALUE``.
"""

BOT_NAME = "linkrot"

# the packages of the design card: spiders/ and pipelines/ at top level, the core in linkrot/
SPIDER_MODULES = ["linkrot.spiders"]  # spiders/ in the repository (pyproject maps it)
NEWSPIDER_MODULE = "linkrot.spiders"
ITEM_PIPELINES = {"linkrot.pipelines.store.StorePipeline": 300}
EXTENSIONS = {
    "linkrot.run.Run": 0,  # the run: lock, run row, imports, after-run steps (linkrot.run)
    "linkrot.progress.Progress": 500,
    "linkrot.logs.QuietLogs": 0,
    "linkrot.process.LongLived": 0,  # start-up's objects left out of garbage collection (linkrot.process)
    "scrapy.extensions.telnet.TelnetConsole": None,
}
# components whose setting is off are not even imported (aiohttp, tldextract: linkrot.process)
ADDONS = {"linkrot.process.SkipDisabled": 0}
# Scrapy's memory stats collector without 2.19's per-attribute deprecation shim (3 % of a check)
STATS_CLASS = "linkrot.process.StatsCollector"
# Scrapy 2.19 opens an HTTP server that runs Python sent to it (token-protected, on localhost);
# an unattended crawler does not need it: -s REMOTE_CONTROL_ENABLED=1 turns it back on
REMOTE_CONTROL_ENABLED = False
# Scrapy re-reads and parses a callback's source on every response to warn about `return value` in
# a generator (its cache is keyed by bound methods, made anew per request): 7 % of a backlinks
# check's CPU.  linkrot's callbacks are tested; a spider author can turn it back on.
WARN_ON_GENERATOR_RETURN_VALUE = False

# -- linkrot's own settings ---------------------------------------------------------
LINKROT_DB = "data/linkrot.db"  # the SQLite database every spider writes to
LINKROT_RESOLVE = ""  # host mapping like curl --resolve: "*.example=127.0.0.1,shop.com=203.0.113.7"
# a backstop for crawl traps the guards miss; memory no longer grows with the site (docs/scale-out.md)
LINKROT_MAX_PAGES = 1_000_000  # stop scheduling pages of the site after this many (0: no limit)
LINKROT_MAX_DEPTH = 30  # do not follow links deeper than this many clicks from the start (0: no limit)
LINKROT_MAX_QUERY_VARIANTS = (
    1000  # query strings of one path followed at most: session ids, calendars, facets (0: no limit)
)
LINKROT_CHECK_EXTERNAL = True  # check each external link once (HEAD, then GET when HEAD is refused)
LINKROT_CHECK_RESOURCES = True  # check images, scripts, stylesheets, frames, media too (-a resources=0: only links)
LINKROT_CHECK_FRAGMENTS = False  # report links to page#section of the site whose page has no such anchor
LINKROT_INCLUDE_SUBDOMAINS = False  # treat every host of the registrable domain as the site
LINKROT_SITEMAP = True  # read robots.txt's sitemaps and /sitemap.xml to find orphans; or sitemap URLs to add
LINKROT_SITEMAP_PATHS = False  # a sitemap's URLs on another host (production's): check their paths here
LINKROT_SOFT404_THRESHOLD = 0.8  # text similarity to the site's 404 page that makes a 200 a soft 404
LINKROT_MEMORY_REQUESTS = 10_000  # site crawl: pending requests kept in memory (~15 MB); the rest wait on disk
LINKROT_BATCH_SIZE = 500  # items per database transaction
LINKROT_FLUSH_INTERVAL = 2.0  # seconds between writes, so Datasette sees a running crawl
# past this many URLs written, a crawl indexes its links by target once, when it ends (0: row by row)
LINKROT_DEFER_LINK_INDEX = 50_000
LINKROT_PROGRESS_INTERVAL = 10.0  # seconds between progress lines (0: off)
LINKROT_RESUME = (
    True  # a run that did not finish (killed, Ctrl-C) is resumed by the next one with the same arguments
)
LINKROT_REDIRECT_OVERRIDES = (
    "data/redirect-overrides.csv"  # your redirect targets (from_url,to_url[,note]), beat suggestions
)
# -- one crawl shared by several workers (docs/scale-out.md)
LINKROT_REDIS_URL = ""  # redis://host:6379/0: share the crawl with every worker given the same URL
LINKROT_WORKERS = 1  # workers sharing a crawl: each takes 1/N of the per-host concurrency (politeness)
LINKROT_LEASE_SECONDS = 60.0  # a worker not heard from this long is dead: its requests in flight are redone
LINKROT_SHARED_QUEUE_AHEAD = 500  # requests the feeding worker keeps queued in Redis ahead of the workers
# -- the backlinks spider
LINKROT_RENDER = "auto"  # auto: render with Chromium only pages that need it; always; never
LINKROT_CHROMIUM = ""  # Chromium executable; empty: Debian's chromium-headless-shell, else its chromium
LINKROT_RENDER_PAGES = 0  # browser pages open at once; 0: two per CPU core (at most 8)
LINKROT_BROWSER_MEMORY_MB = 448  # Chromium is launched again when its processes hold more (MiB, at least 192)
LINKROT_RENDER_WAIT = 3.0  # after "load", seconds to wait at most for the network to go idle
LINKROT_BACKLINKS_CONCURRENCY = 64  # requests in flight over all referring hosts
LINKROT_BACKLINKS_PER_HOST = 2  # requests in flight per referring host
LINKROT_ALLOW_PRIVATE = False  # backlinks: let imported URLs reach loopback/private/link-local addresses
LINKROT_RETRY_AFTER_TIMES = 2  # 429: ask again this many times, after waiting what Retry-After says
LINKROT_RETRY_AFTER_DEFAULT = 5.0  # seconds to wait on a 429 without Retry-After
LINKROT_RETRY_AFTER_MAX = 60.0  # a longer Retry-After is not waited for: the page is rate_limited

# -- monitoring over time
LINKROT_CONFIRM_CHECKS = 2  # consecutive checks that must find a link gone before the loss is confirmed
LINKROT_CONFIRM_HOURS = 0.0  # and at least this many hours after the first of them
LINKROT_CONFIRM_RECHECK = (
    False  # re-fetch a page at once, in the same run, when a link seems gone (counts as a check)
)
LINKROT_BRANDS = (
    ""  # brand names, comma separated (anchor mix, unlinked mentions); empty: the site's domain name
)
LINKROT_KEYWORDS = ""  # target keywords, comma separated: exact and partial match anchors
LINKROT_ALERT_MIN_AUTHORITY = (
    50  # alert on changes of backlinks with at least this authority (unknown: only at 0)
)
LINKROT_ALERT_CHANGES = "lost"  # which changes alert: lost (confirmed losses), new, nofollow, recovered
LINKROT_ALERT_STDOUT = True  # print alerts on standard output when a run ends
LINKROT_ALERT_WEBHOOK = ""  # POST alerts as JSON ({"text": ...}, Slack-compatible) to this URL
LINKROT_ALERT_SMTP = ""  # host:port of an SMTP server to e-mail alerts through
LINKROT_ALERT_EMAIL_FROM = "linkrot@localhost"
LINKROT_ALERT_EMAIL_TO = ""  # recipients, comma separated
LINKROT_ALERT_SMTP_USER = ""
LINKROT_ALERT_SMTP_PASSWORD = ""
LINKROT_ALERT_SMTP_STARTTLS = False
LINKROT_ALERT_TIMEOUT = 10.0  # seconds per alert channel
LINKROT_WAYBACK = False  # look up lost pages and dead targets in the Wayback Machine (a third-party service)
LINKROT_WAYBACK_ENDPOINT = "https://archive.org/wayback/available"
LINKROT_WAYBACK_TIMEOUT = 10.0
LINKROT_WAYBACK_MAX = 200  # lookups per run at most

# -- Scrapy's knobs, tuned for checking links --------------------------------------
# must be here or in -s: Scrapy reads it before any spider exists
TWISTED_DNS_RESOLVER = "linkrot.resolver.MappingResolver"
USER_AGENT = "linkrot/0.1 (+https://github.com/linkrot/linkrot; link checker)"
ROBOTSTXT_OBEY = True  # your own site's robots.txt is obeyed; a disallowed URL is "blocked"
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 8
CONCURRENT_ITEMS = 4  # one item per page: more slots only add asyncio tasks per response (measured)
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
REDIRECT_MAX_TIMES = 10  # the hop limit of linkrot's own redirect following
RETRY_TIMES = 1
RETRY_GIVE_UP_LOG_LEVEL = "INFO"  # a link that stays broken is data, not an error of the run
COOKIES_ENABLED = False
# linkrot keeps its own seen-set; no request fingerprints for links already seen
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
SCHEDULER_DISK_QUEUE = "linkrot.scratch.PlainPickleFifoDiskQueue"  # requests pickled one by one, written in batches
# Scrapy's default (the least busy download slot first), with the slot found without urlparse
SCHEDULER_PRIORITY_QUEUE = "linkrot.scratch.SlotPriorityQueue"
DOWNLOADER_MIDDLEWARES = {
    # linkrot follows redirects (and meta refresh) itself, hop by hop
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    # the spiders decide what is in scope
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    # -a http_user/http_pass/header, sent to the crawled site only (linkrot.auth says why not Scrapy's)
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "linkrot.middlewares.SiteLoginMiddleware": 580,
    # IP-literal URLs from imported files: no request forgery (linkrot.guard)
    "linkrot.guard.AddressGuardMiddleware": 50,
    # sees a 429 before RetryMiddleware (550) and waits what Retry-After says
    "linkrot.middlewares.RetryAfterMiddleware": 560,
}
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]  # 429 is RetryAfterMiddleware's
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,  # linkrot tracks depth itself
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
}
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 0
