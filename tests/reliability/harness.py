"""Load and fault harness for estatemap (issue 8, sections 4 and 5).

Used by scripts/load and scripts/faults (the full forms: 64 connections for 60 s,
20 kill -9 rounds) and by tests/integration/test_load.py and test_faults.py (the
short forms CI runs). Standard library only, so that the scripts run on any Python 3;
everything runs against the real binary, a real SpatiaLite file and a real server on
a loopback port.

What it checks, and never by timing:
  - load: no 5xx and no dropped connection; every acknowledged (2xx) write is in the
    database exactly once with the content sent (and one audit row), no rejected write
    is there, and the server's RSS stays within its budget (see rss_budget_mb);
  - kill -9 during writes: integrity_check and `estatemap check` pass, every
    acknowledged write is present, the server restarts and serves;
  - kill -9 during an import: integrity_check passes, every table is exactly as
    before the import or exactly as after a completed one, the server starts.
"""

import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = ["乱停车", "乱堆杂物", "乱抛物", "乱晾晒", "无序设摊", "违法使用房屋", "违法居住",
              "违法建筑", "违法排污", "违法用地", "违法经营", "黑色小广告"]
LAYERS = ["towns", "estates", "grid", "violations", "corridors", "zones"]
TILE_LAYERS = LAYERS + ["towns,estates", "estates,violations", "grid,violations"]
# Minhang, where the demo's features are: tiles and bboxes are drawn from this box.
MINHANG = (121.33, 30.98, 121.55, 31.22)
KEEP_ALIVE_S = 2.0  # src/server.c: keep_alive_timeout_ms
ROLES = [("inspector-a", "inspector"), ("inspector-b", "inspector"),
         ("inspector-c", "inspector"), ("planner-a", "planner"), ("planner-b", "planner")]


def estatemap_bin():
    return Path(os.environ.get("ESTATEMAP_BIN", str(REPO / "build" / "estatemap")))


def run_cli(bin_path, *args, timeout=600, check=False):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    env.pop("ESTATEMAP_DB", None)
    p = subprocess.run([str(bin_path), *map(str, args)], capture_output=True, env=env,
                       timeout=timeout)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise RuntimeError(f"estatemap {' '.join(map(str, args))}: rc {p.returncode}\n{out}{err}")
    return p.returncode, out, err


def demo_database(bin_path, work, source=None):
    """A copy of `source`, else a fresh `estatemap demo` database, in `work`."""
    path = Path(work) / "demo.sqlite"
    if source:
        shutil.copyfile(source, path)
    else:
        run_cli(bin_path, "demo", "--db", path, check=True)
    return path


def write_tokens(path):
    """Five tokens (three inspectors, two planners); returns [(name, role, token)]."""
    tokens, lines = [], ["# estatemap load tokens: NAME ROLE SHA256(token)"]
    for name, role in ROLES:
        token = hashlib.sha256(os.urandom(32)).hexdigest()
        tokens.append((name, role, token))
        lines.append(f"{name} {role} {hashlib.sha256(token.encode()).hexdigest()}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tokens


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class Server:
    """`estatemap serve` on a free loopback port; ready when /healthz answers 200."""

    def __init__(self, bin_path, db, work, tokens_file, threads=16, extra=(), ready_timeout=60):
        self.port = free_port()
        work = Path(work)
        self.err_path = work / f"serve-{self.port}.err"
        self.log_path = work / f"access-{self.port}.log"
        cmd = [str(bin_path), "serve", "--db", str(db), "--listen", f"127.0.0.1:{self.port}",
               "--threads", str(threads), "--tokens", str(tokens_file),
               "--access-log", str(self.log_path), *map(str, extra)]
        env = dict(os.environ, LC_ALL="C.UTF-8")
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = time.time() + ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()}")
            try:
                if self.get("/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"server did not answer /healthz: {self.stderr()}")
            time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        return self.err_path.read_text("utf-8", "replace")

    def get(self, path, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# ---------------------------------------------------------------- the database side


def connect(db):
    return sqlite3.connect(str(db), timeout=60)


def point_of(blob):
    """lon, lat of a SpatiaLite BLOB point (its MBR corner, bytes 6-21)."""
    endian = "<" if blob[1] == 1 else ">"
    return struct.unpack(endian + "dd", blob[6:22])


def sample_points(db, n, seed=1):
    """n locations of existing reports: inside a town and a grid cell, so a new report
    there is valid and `estatemap check` finds no orphan."""
    con = connect(db)
    try:
        blobs = [r[0] for r in con.execute("SELECT geom FROM violations ORDER BY id")]
    finally:
        con.close()
    rnd = random.Random(seed)
    return [point_of(b) for b in rnd.sample(blobs, min(n, len(blobs)))]


def integrity(db):
    con = connect(db)
    try:
        return [r[0] for r in con.execute("PRAGMA integrity_check")]
    finally:
        con.close()


def db_check(bin_path, db):
    """`estatemap check`: integrity, indexes, orphans; (ok, output)."""
    rc, out, err = run_cli(bin_path, "check", "--db", db)
    return rc == 0, out + err


# SpatiaLite's own bookkeeping stamps the wall-clock time of each change: two
# identical imports differ there and nowhere else, so those columns are left out.
CLOCK_COLUMNS = {"geometry_columns_time": {"last_insert", "last_update", "last_delete"},
                 "spatialite_history": {"timestamp"}}


def table_digest(db, tables=None):
    """{table: (count, sha256 of every row in rowid order)} for the plain tables
    (without the CLOCK_COLUMNS)."""
    con = connect(db)
    try:
        names = [n for n, sql in con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='table' ORDER BY name")
                 if not (sql or "").upper().startswith("CREATE VIRTUAL")]
        out = {}
        for t in names if tables is None else tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')
                    if r[1] not in CLOCK_COLUMNS.get(t, ())]
            select = ", ".join(f'"{c}"' for c in cols)
            h, n = hashlib.sha256(), 0
            for row in con.execute(f'SELECT {select} FROM "{t}" ORDER BY rowid'):
                h.update(repr(row).encode())
                n += 1
            out[t] = (n, h.hexdigest())
        return out
    finally:
        con.close()


# ---------------------------------------------------------------- writes and their log


class WriteLog:
    """Every write sent and what came back. `acked` posts are 2xx with an id;
    `rejected` are 4xx; `unknown` got no answer (the connection died)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []     # dict(code, body, status, id, feature)
        self.patches = []   # dict(id, body, status, seq)
        self.invalid = []   # dict(kind, marker, status, expect)
        self.unknown = []

    def add(self, kind, rec):
        with self.lock:
            getattr(self, kind).append(rec)


class Writer:
    """Violation writes on one keep-alive connection with one token."""

    def __init__(self, port, token, tag, points, log, rnd, timeout=60):
        self.port, self.token, self.tag, self.points = port, token, tag, points
        self.log, self.rnd, self.timeout = log, rnd, timeout
        self.conn = None
        self.last = (None, None, None, 0.0)  # the last answer on this connection, and when
        self.expired = 0  # requests sent again after the server closed an idle connection
        self.seq = 0
        self.mine = []  # ids of this writer's acknowledged reports

    def send(self, method, path, body, headers=None, token=True):
        """(status, body bytes); raises OSError/HTTPException when there is no answer."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        h = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode()
        t0 = time.monotonic()
        reused = self.last[0] is not None
        r = None
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            if os.environ.get("HARNESS_DEBUG"):
                print(f"no answer to {method} {path} after {time.monotonic() - t0:.3f} s: {e!r};"
                      f" before: {self.last[:3]} ended {t0 - self.last[3]:.3f} s earlier")
            self.last = (None, None, None, 0.0)
            # The server closes a keep-alive connection after KEEP_ALIVE_S idle (CivetWeb's
            # keep_alive_timeout_ms), counted from when it sent its last answer: a client
            # that reads slowly (64 threads on a busy machine) may send its next request
            # into a connection being closed. Such a request never reached the server; as
            # browsers do for a reused connection that closes before any byte of an
            # answer (RFC 9112 9.3.1), send it again once on a new connection. run_load
            # checks that the server logged exactly the requests the clients got answers
            # to, so a request the server did answer is never hidden this way.
            if reused and r is None and isinstance(
                    e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                self.expired += 1
                return self.send(method, path, body, headers, token)
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
            self.last = (None, None, None, 0.0)
        else:
            self.last = (method, path, r.status, time.monotonic())
        return r.status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def report(self):
        self.seq += 1
        lon, lat = self.rnd.choice(self.points)
        code = f"{self.tag}-{self.seq}"
        day = self.rnd.randrange(1, 28)
        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"code": code, "category": self.rnd.choice(CATEGORIES),
                               "reported_at": f"2024-03-{day:02d}T{self.rnd.randrange(24):02d}:10:00",
                               "description": f"load {code} 楼道堆物"}}
        return code, body

    def post_valid(self):
        code, body = self.report()
        rec = {"code": code, "body": body}
        try:
            status, data = self.send("POST", "/api/violations", body)
        except (OSError, http.client.HTTPException) as e:
            rec["error"] = repr(e)
            self.log.add("unknown", rec)
            return None
        rec["status"] = status
        if 200 <= status < 300:
            f = json.loads(data)
            rec["id"], rec["feature"] = f["id"], f
            self.mine.append(f["id"])
            self.log.add("posts", rec)
        else:
            rec["answer"] = data[:300]
            self.log.add("posts", rec)
        return status

    def patch_resolve(self, valid=True):
        if not self.mine:
            return self.post_valid()
        vid = self.rnd.choice(self.mine)
        self.seq += 1
        if valid:
            body = {"status": "resolved", "resolved_at": f"2024-06-{self.rnd.randrange(1, 28):02d}"
                                                          f"T{self.seq % 24:02d}:00:00",
                    "description": f"resolved {self.tag}-{self.seq}"}
        else:  # before every load report's reported_at: must be refused, row unchanged
            body = {"status": "resolved", "resolved_at": "2020-01-01T00:00:00",
                    "description": f"BAD-{self.tag}-{self.seq}"}
        rec = {"id": vid, "body": body, "valid": valid, "seq": self.seq}
        try:
            status, data = self.send("PATCH", f"/api/violations/{vid}", body)
        except (OSError, http.client.HTTPException) as e:
            rec["error"] = repr(e)
            self.log.add("unknown", rec)
            return None
        rec["status"] = status
        if not 200 <= status < 300:
            rec["answer"] = data[:300]
        self.log.add("patches", rec)
        return status

    def post_invalid(self):
        """A report that must be refused (its expected statuses are logged); the status."""
        self.seq += 1
        marker = f"BAD-{self.tag}-{self.seq}"
        code, body = self.report()
        body["properties"]["code"] = marker
        body["properties"]["description"] = marker
        kind = self.rnd.choice(["outside", "category", "future", "json", "notoken", "shape"])
        raw, token, expect = body, True, (422,)
        if kind == "outside":
            body["geometry"]["coordinates"] = [121.0, 31.3]  # west of the district
        elif kind == "category":
            body["properties"]["category"] = "乱扔垃圾"
        elif kind == "future":
            body["properties"]["reported_at"] = "2099-01-01T00:00:00"
        elif kind == "json":
            raw, expect = json.dumps(body, ensure_ascii=False).encode()[:-7], (400,)
        elif kind == "notoken":
            token, expect = False, (401,)
        elif kind == "shape":
            body["geometry"] = {"type": "Point", "coordinates": ["x", "y"]}
            expect = (400,)
        rec = {"kind": kind, "marker": marker, "expect": expect}
        try:
            status, data = self.send("POST", "/api/violations", raw, token=token)
        except (OSError, http.client.HTTPException) as e:
            rec["error"] = repr(e)
            self.log.add("unknown", rec)
            return None
        rec["status"] = status
        rec["answer"] = data[:300]
        self.log.add("invalid", rec)
        return status


def verify_writes(db, log):
    """Problems (a list of strings) between the write log and the database.

    Every acknowledged report is there once, with the content sent and the answer's
    id, and one POST audit row. Every refused write is absent. A report whose answer
    never came (`unknown`, kill -9) may be there or not, but at most once and whole.
    Acknowledged resolutions are there too: each report ends as its last acknowledged
    resolution left it (each writer patches only its own reports, one at a time), or
    as an unanswered resolution after it did."""
    problems = []
    con = connect(db)
    try:
        rows = {}
        for vid, code, cat, rep, res, status, desc, geom in con.execute(
                "SELECT id, code, category, reported_at, resolved_at, status, description, geom"
                " FROM violations WHERE code LIKE 'L%' OR code LIKE 'BAD-%'"
                " OR description LIKE '%BAD-%'"):
            rows.setdefault(code, []).append((vid, cat, rep, res, status, desc, point_of(geom)))
        audits = {}
        for fid, method, n in con.execute(
                "SELECT feature_id, method, count(*) FROM audit_log WHERE layer='violations'"
                " GROUP BY feature_id, method"):
            audits[(fid, method)] = n
    finally:
        con.close()
    acked = [p for p in log.posts if "id" in p]
    unanswered_patch = {}
    for u in log.unknown:
        if "id" in u and "body" in u:
            unanswered_patch[u["id"]] = u
    expected_final = {}
    for p in sorted((p for p in log.patches if 200 <= p.get("status", 0) < 300),
                    key=lambda p: p["seq"]):
        expected_final[p["id"]] = p
    for p in acked:
        got = rows.get(p["code"], [])
        if len(got) != 1:
            problems.append(f"acknowledged report {p['code']} (id {p['id']}) is in the "
                            f"database {len(got)} times")
            continue
        vid, cat, rep, res, status, desc, (lon, lat) = got[0]
        props, sent = p["feature"]["properties"], p["body"]
        if vid != p["id"]:
            problems.append(f"report {p['code']}: id {vid} in the database, {p['id']} answered")
        if cat != props["category"] or rep != props["reported_at"]:
            problems.append(f"report {p['code']}: stored {cat} {rep}, answered "
                            f"{props['category']} {props['reported_at']}")
        x, y = sent["geometry"]["coordinates"]
        if abs(lon - x) > 1e-9 or abs(lat - y) > 1e-9:
            problems.append(f"report {p['code']}: stored at {lon},{lat}, sent {x},{y}")
        if audits.get((vid, "POST"), 0) != 1:
            problems.append(f"report {p['code']} (id {vid}) has {audits.get((vid, 'POST'), 0)}"
                            " POST audit rows")
        fin, late = expected_final.get(vid), unanswered_patch.get(vid)
        states = [("resolved", fin["body"]["resolved_at"], fin["body"]["description"])
                  if fin else ("open", None, sent["properties"]["description"])]
        if late and late["valid"]:
            states.append(("resolved", late["body"]["resolved_at"], late["body"]["description"]))
        if (status, res, desc) not in states:
            problems.append(f"report {p['code']} (id {vid}) is {status} {res} {desc!r}; "
                            f"its acknowledged writes left it {states[0]}")
        n_patch = sum(1 for q in log.patches if q["id"] == vid and 200 <= q.get("status", 0) < 300)
        n_audit = audits.get((vid, "PATCH"), 0)
        if not n_patch <= n_audit <= n_patch + (1 if late else 0):
            problems.append(f"report {p['code']} (id {vid}): {n_audit} PATCH audit rows for "
                            f"{n_patch} acknowledged resolutions")
    for p in log.posts:
        if "id" not in p and rows.get(p["code"]):
            problems.append(f"refused report {p['code']} ({p['status']}) is in the database")
    for u in log.unknown:
        got = rows.get(u.get("code"), [])
        if len(got) > 1:
            problems.append(f"unanswered report {u['code']} is in the database "
                            f"{len(got)} times")
        elif got and "body" in u:
            x, y = u["body"]["geometry"]["coordinates"]
            vid, cat, rep, res, status, desc, (lon, lat) = got[0]
            if (desc != u["body"]["properties"]["description"] or abs(lon - x) > 1e-9
                    or abs(lat - y) > 1e-9 or audits.get((vid, "POST"), 0) != 1):
                problems.append(f"unanswered report {u['code']} is stored incompletely")
    for code, got in rows.items():
        if code.startswith("BAD-") or any("BAD-" in (g[5] or "") for g in got):
            problems.append(f"a refused write is in the database: {code} {got[0][5]!r}")
    return problems


# ---------------------------------------------------------------- reads


def tile_xy(lon, lat, z):
    import math
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def random_read(rnd, counts):
    """A path: 2/3 tiles of several layers and zooms, 1/3 OGC items pages."""
    if rnd.random() < 0.67:
        z = rnd.randrange(10, 17)
        x, y = tile_xy(rnd.uniform(MINHANG[0], MINHANG[2]), rnd.uniform(MINHANG[1], MINHANG[3]), z)
        fmt = rnd.choice(["mvt", "geojson"])
        return f"/tiles/{rnd.choice(TILE_LAYERS)}/{z}/{x}/{y}.{fmt}", "tile"
    layer = rnd.choice(LAYERS)
    limit = rnd.choice([10, 50, 100])
    q = f"limit={limit}&offset={rnd.randrange(max(1, counts.get(layer, 1)))}"
    if rnd.random() < 0.3:
        lon, lat = rnd.uniform(MINHANG[0], MINHANG[2]), rnd.uniform(MINHANG[1], MINHANG[3])
        q = f"limit={limit}&bbox={lon:.5f},{lat:.5f},{lon + 0.01:.5f},{lat + 0.01:.5f}"
    return f"/ogc/collections/{layer}/items?{q}", "items"


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


# ---------------------------------------------------------------- load


# The server has no RSS limit of its own: its memory is its idle footprint, the tile
# cache (capped by --tile-cache-mb), the geometry cache with the layer sets (capped by
# --geom-cache-mb, 128 by default) and what each worker holds while it builds one
# answer. The largest answer in the load's mix, a z10 grid tile (22,787 features cut
# down to the 500 KB byte cap), raised a one-worker server's peak RSS by 27 MB; each
# worker is allowed 32 MiB.
PER_WORKER_MB = 32
GEOM_CACHE_MB = 128


def rss_budget_mb(idle_mb, tile_cache_mb, threads, per_worker_mb=PER_WORKER_MB,
                  geom_cache_mb=GEOM_CACHE_MB):
    return idle_mb + tile_cache_mb + geom_cache_mb + threads * per_worker_mb


def run_load(bin_path, work, seconds=60, connections=64, threads=None, write_share=0.10,
             db_source=None, tile_cache_mb=64, seed=None, say=print):
    """Run the load; returns a result dict with "problems" (empty when every check passed)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    threads = threads or connections
    seed = seed if seed is not None else int(time.time())
    db = demo_database(bin_path, work, db_source)
    tokens = write_tokens(work / "tokens.txt")
    points = sample_points(db, 2000, seed)
    con = connect(db)
    counts = {l: con.execute(f'SELECT count(*) FROM "{l}"').fetchone()[0] for l in LAYERS}
    n_before = counts["violations"]
    con.close()
    server = Server(bin_path, db, work, work / "tokens.txt", threads=threads,
                    extra=["--tile-cache-mb", tile_cache_mb, "--geom-cache-mb", GEOM_CACHE_MB])
    idle = rss_mb(server.pid)
    budget = rss_budget_mb(idle, tile_cache_mb, threads)
    say(f"server pid {server.pid} on 127.0.0.1:{server.port}, {threads} threads, idle RSS "
        f"{idle:.1f} MB, budget {budget:.0f} MB; {connections} connections for {seconds} s")
    log = WriteLog()
    stats_lock = threading.Lock()
    lat = {"read": [], "write": []}
    statuses = {}
    fivexx, errors, bad_reads = [], [], []
    peak = [idle]
    expired = [0]
    load_before = os.getloadavg()[0]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            r = rss_mb(server.pid)
            if r:
                peak[0] = max(peak[0], r)
            stop.wait(0.1)

    def client(i):
        rnd = random.Random(seed * 1000 + i)
        name, role, token = tokens[i % len(tokens)]
        w = Writer(server.port, token, f"L{seed}-{i}", points, log, rnd)
        my_lat = {"read": [], "write": []}
        my_status = {}
        deadline = time.time() + seconds
        while time.time() < deadline:
            t0 = time.perf_counter()
            if rnd.random() < write_share:
                kind = "write"
                u = rnd.random()
                if u < 0.70:
                    st = w.post_valid()
                elif u < 0.90:
                    st = w.patch_resolve(valid=rnd.random() < 0.85)
                else:
                    st = w.post_invalid()
                if st is None:
                    with stats_lock:
                        errors.append(("write", log.unknown[-1].get("error")))
                    continue
            else:
                kind = "read"
                path, _ = random_read(rnd, counts)
                try:
                    st, _ = w.send("GET", path, None, token=False,
                                   headers={"Accept-Encoding": "gzip"} if rnd.random() < 0.5
                                   else None)
                except (OSError, http.client.HTTPException) as e:
                    with stats_lock:
                        errors.append((path, repr(e)))
                    continue
                if st not in (200, 204, 304):
                    with stats_lock:
                        bad_reads.append((path, st))
            my_lat[kind].append(time.perf_counter() - t0)
            my_status[st] = my_status.get(st, 0) + 1
            if st >= 500:
                with stats_lock:
                    fivexx.append((kind, st))
        w.close()
        with stats_lock:
            expired[0] += w.expired
            for k in lat:
                lat[k].extend(my_lat[k])
            for k, v in my_status.items():
                statuses[k] = statuses.get(k, 0) + v

    # One keep-alive connection per client, for its reads and its writes: exactly
    # `connections` sockets, each with a request in flight nearly all the time.
    smp = threading.Thread(target=sampler, daemon=True)
    smp.start()
    t_start = time.perf_counter()
    clients = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    elapsed = time.perf_counter() - t_start
    stop.set()
    smp.join()
    final_rss = rss_mb(server.pid)
    rc = server.stop()
    problems = []
    # every request the server answered (its access log, less the start-up /healthz
    # polls) is one the clients got an answer to, and the other way round
    logged = sum(1 for line in server.log_path.read_text("utf-8", "replace").splitlines()
                 if '"GET /healthz ' not in line)
    answered = len(lat["read"]) + len(lat["write"])
    if logged != answered:
        problems.append(f"the server logged {logged} answers, the clients received {answered}")
    if rc != 0:
        problems.append(f"server exited with {rc} after SIGTERM: {server.stderr()[-2000:]}")
    if fivexx:
        problems.append(f"{len(fivexx)} answers were 5xx: {fivexx[:5]}")
    if errors:
        problems.append(f"{len(errors)} requests got no answer: {errors[:5]}")
    if bad_reads:
        problems.append(f"{len(bad_reads)} reads were not 200/204/304: {bad_reads[:5]}")
    for p in log.posts:
        if "id" not in p:
            problems.append(f"valid report {p['code']} refused: {p['status']} {p.get('answer')}")
    for p in log.patches:
        if p["valid"] and not 200 <= p["status"] < 300:
            problems.append(f"valid resolution of {p['id']} refused: {p['status']} {p.get('answer')}")
        if not p["valid"] and p["status"] != 422:
            problems.append(f"invalid resolution of {p['id']} answered {p['status']}")
    for p in log.invalid:
        ok = p["status"] in p["expect"] or (p["kind"] == "notoken" and p["status"] == 429)
        if not ok:
            problems.append(f"invalid write ({p['kind']}) answered {p['status']}, expected "
                            f"{p['expect']}: {p.get('answer')}")
    problems += verify_writes(db, log)
    acked = sum(1 for p in log.posts if "id" in p)
    con = connect(db)
    n_after = con.execute("SELECT count(*) FROM violations").fetchone()[0]
    con.close()
    if n_after != n_before + acked:
        problems.append(f"violations went from {n_before} to {n_after}, {acked} reports "
                        "acknowledged")
    integ = integrity(db)
    if integ != ["ok"]:
        problems.append(f"integrity_check: {integ[:5]}")
    ok, out = db_check(bin_path, db)
    if not ok:
        problems.append(f"estatemap check failed:\n{out}")
    if peak[0] > budget:
        problems.append(f"peak RSS {peak[0]:.1f} MB over the budget {budget:.0f} MB")
    n_reads, n_writes = len(lat["read"]), len(lat["write"])
    ms = lambda v: round(v * 1000, 2) if v is not None else None  # noqa: E731
    return {
        "connections": connections, "threads": threads, "seconds": round(elapsed, 1),
        "requests": n_reads + n_writes, "reads": n_reads, "writes": n_writes,
        "requests_per_s": round((n_reads + n_writes) / elapsed, 1),
        "read_p50_ms": ms(percentile(lat["read"], 50)), "read_p99_ms": ms(percentile(lat["read"], 99)),
        "write_p50_ms": ms(percentile(lat["write"], 50)),
        "write_p99_ms": ms(percentile(lat["write"], 99)),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "status_5xx": len(fivexx), "no_answer": len(errors),
        "resent_after_keep_alive_close": expired[0], "server_logged": logged,
        "machine_load_avg_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "reports_acknowledged": acked,
        "resolutions_acknowledged": sum(1 for p in log.patches if 200 <= p["status"] < 300),
        "writes_refused": sum(1 for p in log.invalid) +
        sum(1 for p in log.patches if not p["valid"]),
        "violations_before": n_before, "violations_after": n_after,
        "rss_idle_mb": round(idle, 1), "rss_peak_mb": round(peak[0], 1),
        "rss_final_mb": round(final_rss or 0, 1), "rss_budget_mb": round(budget, 1),
        "tile_cache_mb": tile_cache_mb, "integrity_check": integ[0] if integ else None,
        "problems": problems,
    }


# ---------------------------------------------------------------- kill -9 during writes


def check_file(bin_path, db):
    """Problems with the file after a crash: integrity_check and `estatemap check`."""
    problems = []
    integ = integrity(db)
    if integ != ["ok"]:
        problems.append(f"integrity_check: {integ[:5]}")
    ok, out = db_check(bin_path, db)
    if not ok:
        problems.append(f"estatemap check failed:\n{out}")
    return problems


def serves(server, log):
    """Problems if the server does not answer reads of the data written so far."""
    problems = []
    st, body = server.get("/healthz")
    if st != 200:
        problems.append(f"/healthz answered {st} after the restart: {body[:200]!r}")
    acked = [p["id"] for p in log.posts if "id" in p]
    for vid in acked[-3:]:
        st, body = server.get(f"/api/violations/{vid}")
        if st != 200:
            problems.append(f"/api/violations/{vid} answered {st} after the restart")
    x, y = tile_xy(121.45, 31.05, 15)
    st, _ = server.get(f"/tiles/violations/15/{x}/{y}.mvt")
    if st not in (200, 204):
        problems.append(f"a violations tile answered {st} after the restart")
    return problems


def run_write_kills(bin_path, work, rounds=20, writers=8, db_source=None, seed=None,
                    min_s=0.3, max_s=2.5, say=print):
    """kill -9 the server at a random moment of a write load, `rounds` times on the same
    file. After each kill, with no process on the file: integrity_check, `estatemap
    check`, every acknowledged write there (the writes of all rounds so far). Each
    round's server start is the restart after the previous kill, and must serve the
    data; a last restart ends with SIGTERM and exit 0."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    seed = seed if seed is not None else int(time.time())
    rnd = random.Random(seed)
    db = demo_database(bin_path, work, db_source)
    tokens = write_tokens(work / "tokens.txt")
    points = sample_points(db, 2000, seed)
    log = WriteLog()
    rounds_out, problems = [], []
    for rno in range(1, rounds + 1):
        server = Server(bin_path, db, work, work / "tokens.txt", threads=16)
        round_problems = serves(server, log) if rno > 1 else []
        stop = threading.Event()

        def writer(i, port=server.port, rno=rno):
            wr = random.Random(seed * 7919 + rno * 101 + i)
            w = Writer(port, tokens[i % len(tokens)][2], f"L{seed}-r{rno}-w{i}", points, log,
                       wr, timeout=30)
            while not stop.is_set():
                st = w.post_valid() if wr.random() < 0.8 else w.patch_resolve(valid=True)
                if st is None:  # no answer: the server is gone
                    break
            w.close()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
        before = sum(1 for p in log.posts if "id" in p)
        for t in threads:
            t.start()
        delay = rnd.uniform(min_s, max_s)
        time.sleep(delay)
        server.kill9()
        stop.set()
        for t in threads:
            t.join()
        acked = sum(1 for p in log.posts if "id" in p) - before
        round_problems += check_file(bin_path, db)
        round_problems += verify_writes(db, log)
        rounds_out.append({"round": rno, "killed_after_s": round(delay, 2),
                           "acknowledged": acked, "problems": len(round_problems)})
        say(f"write round {rno}: SIGKILL after {delay:.2f} s, {acked} writes acknowledged, "
            f"{len(log.unknown)} unanswered so far, "
            f"{'ok' if not round_problems else 'FAILED: ' + '; '.join(round_problems[:3])}")
        problems += [f"round {rno}: {p}" for p in round_problems]
    server = Server(bin_path, db, work, work / "tokens.txt", threads=4)
    problems += [f"final restart: {p}" for p in serves(server, log)]
    rc = server.stop()
    if rc != 0:
        problems.append(f"the last restart exited {rc} after SIGTERM: {server.stderr()[-1000:]}")
    con = connect(db)
    present_unknown = sum(1 for u in log.unknown if "code" in u and con.execute(
        "SELECT count(*) FROM violations WHERE code = ?", (u["code"],)).fetchone()[0])
    con.close()
    return {"rounds": rounds, "rounds_ok": sum(1 for r in rounds_out if not r["problems"]),
            "writes_acknowledged": sum(1 for p in log.posts if "id" in p),
            "resolutions_acknowledged": sum(1 for p in log.patches if 200 <= p["status"] < 300),
            "unanswered_at_kill": len(log.unknown),
            "unanswered_found_committed": present_unknown,
            "rounds_detail": rounds_out, "problems": problems}


# ---------------------------------------------------------------- kill -9 during an import


def big_violations_csv(path, copies=4):
    """The demo's violations.csv `copies` times over with new codes: 30,000 x copies."""
    import csv
    with open(REPO / "geodata" / "violations.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        for k in range(copies):
            for r in rows[1:]:
                w.writerow([f"IMP{k}-{r[0]}", *r[1:]])
    return Path(path)


def run_import_kills(bin_path, work, rounds=20, copies=4, db_source=None, seed=None, say=print):
    """kill -9 `estatemap import violations BIG.csv` (into the demo database, which has
    30,000 reports already) at a random moment, `rounds` times, each on a fresh copy.
    After each: integrity_check, every table exactly as before the import or exactly as
    after a completed one (checksums of every row of every plain table), `estatemap
    check`, and a server that starts on the file and serves it."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    seed = seed if seed is not None else int(time.time())
    rnd = random.Random(seed)
    base = demo_database(bin_path, work, db_source)
    write_tokens(work / "tokens.txt")
    csv_path = big_violations_csv(work / "big.csv", copies)
    before = table_digest(base)
    ref = work / "complete.sqlite"
    shutil.copyfile(base, ref)
    t0 = time.monotonic()
    run_cli(bin_path, "import", "violations", csv_path, "--db", ref, check=True)
    full_time = time.monotonic() - t0
    after = table_digest(ref)
    if after == before:
        raise RuntimeError("the reference import changed nothing")
    say(f"reference import: {after['violations'][0] - before['violations'][0]} reports in "
        f"{full_time:.1f} s")
    outcome, problems, detail = {"nothing": 0, "all": 0}, [], []
    db = work / "round.sqlite"
    for rno in range(1, rounds + 1):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        shutil.copyfile(base, db)
        env = dict(os.environ, LC_ALL="C.UTF-8")
        proc = subprocess.Popen([str(bin_path), "import", "violations", str(csv_path), "--db",
                                 str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        delay = rnd.uniform(0.02, 1.0) * full_time
        time.sleep(delay)
        finished_first = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        rc = proc.wait()
        rp = []
        integ = integrity(db)
        if integ != ["ok"]:
            rp.append(f"integrity_check: {integ[:5]}")
        got = table_digest(db)
        if got == before:
            state = "nothing"
        elif got == after:
            state = "all"
        else:
            state = "partial"
            diff = [t for t in set(got) | set(before) if got.get(t) != before.get(t)
                    and got.get(t) != after.get(t)]
            rp.append(f"the import is neither all nor nothing: tables {sorted(diff)[:8]}")
        if state in outcome:
            outcome[state] += 1
        ok, out = db_check(bin_path, db)
        if not ok:
            rp.append(f"estatemap check failed:\n{out}")
        try:
            server = Server(bin_path, db, work, work / "tokens.txt", threads=2)
            st, body = server.get("/ogc/collections/violations/items?limit=1")
            if st != 200:
                rp.append(f"the server answered {st} for violations after the kill")
            src = server.stop()
            if src != 0:
                rp.append(f"the server exited {src} after SIGTERM")
        except RuntimeError as e:
            rp.append(f"the server did not start on the file: {e}")
        say(f"import round {rno}: SIGKILL after {delay:.2f} s "
            f"({'after it finished, ' if finished_first else ''}rc {rc}): {state}, "
            f"{'ok' if not rp else 'FAILED: ' + '; '.join(rp[:3])}")
        detail.append({"round": rno, "killed_after_s": round(delay, 2), "state": state,
                       "finished_before_kill": finished_first, "problems": len(rp)})
        problems += [f"round {rno}: {p}" for p in rp]
    return {"rounds": rounds, "rounds_ok": sum(1 for d in detail if not d["problems"]),
            "import_rows": after["violations"][0] - before["violations"][0],
            "import_seconds": round(full_time, 1), "rolled_back": outcome["nothing"],
            "completed": outcome["all"], "rounds_detail": detail, "problems": problems}


# ---------------------------------------------------------------- a full disk


class SmallDisk:
    """A tmpfs of `size_mb` at `path` (needs root, or CAP_SYS_ADMIN): a real file
    system that really fills, so writes fail with ENOSPC. `SmallDisk.available()`
    says whether mounting works here."""

    def __init__(self, path, size_mb):
        self.path = Path(path)
        self.size_mb = size_mb

    @staticmethod
    def available(work):
        probe = Path(work) / "mount-probe"
        probe.mkdir(parents=True, exist_ok=True)
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], check=True)
        probe.rmdir()
        return ok

    def __enter__(self):
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "tmpfs",
                        str(self.path)], check=True, capture_output=True)
        return self.path

    def __exit__(self, *exc):
        subprocess.run(["umount", str(self.path)], check=True)
        self.path.rmdir()


def leftovers(folder, keep=()):
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in keep)


def no_space_message(text, path):
    return "no space left on device" in text.lower() and str(path) in text


def run_full_disk(bin_path, work, db_source=None, say=print):
    """`estatemap import` into a database on a nearly full tmpfs, `estatemap export` of
    every format onto a 1 MiB tmpfs, and /api/export with TMPDIR on a 1 MiB tmpfs: each
    must fail with an error that names the file and says "no space left on device"
    (exit 1; 503 from the server), leave the database as it was (integrity_check ok,
    every row the same) and leave no file behind."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    base = demo_database(bin_path, work, db_source)
    write_tokens(work / "tokens.txt")
    csv_path = big_violations_csv(work / "big.csv", 4)
    problems, cases = [], []

    def case(name, ok, detail):
        cases.append({"case": name, "ok": ok, "detail": detail})
        say(f"full disk, {name}: {'ok' if ok else 'FAILED'}: {detail}")
        if not ok:
            problems.append(f"{name}: {detail}")

    # import: the database on a tmpfs with ~6 MiB free, the import needs far more
    size = base.stat().st_size
    with SmallDisk(work / "disk-import", size // (1 << 20) + 7) as disk:
        db = disk / "demo.sqlite"
        shutil.copyfile(base, db)
        before = table_digest(db)
        rc, out, err = run_cli(bin_path, "import", "violations", csv_path, "--db", db)
        msg = (out + err).strip().splitlines()[-1] if (out + err).strip() else ""
        integ = integrity(db)
        same = table_digest(db) == before
        left = leftovers(disk, keep=("demo.sqlite", "demo.sqlite-wal", "demo.sqlite-shm"))
        case("import", rc == 1 and no_space_message(err, db) and integ == ["ok"] and same
             and not left, f"exit {rc}, {msg!r}, integrity_check {integ[0]}, "
             f"database {'unchanged' if same else 'CHANGED'}, left behind {left}")
        # the server still starts on the file and serves it
        try:
            server = Server(bin_path, db, work, work / "tokens.txt", threads=2)
            st, _ = server.get("/ogc/collections/violations/items?limit=1")
            server.stop()
            case("server after the failed import", st == 200, f"items answered {st}")
        except RuntimeError as e:
            case("server after the failed import", False, str(e)[:300])

    # export: every format onto a 1 MiB tmpfs
    for fmt, source in [("gpkg", "estates,violations"), ("shp", "estates,violations"),
                        ("kml", "estates,violations"), ("xlsx", "estates,violations"),
                        ("geojson", "violations"), ("csv", "violations")]:
        with SmallDisk(work / "disk-export", 1) as disk:
            out_path = disk / f"out.{fmt}"
            before = table_digest(base)
            rc, out, err = run_cli(bin_path, "export", source, "--db", base, "--format", fmt,
                                   "-o", out_path)
            left = leftovers(disk)
            same = table_digest(base) == before
            msg = err.strip().splitlines()[-1] if err.strip() else out.strip()
            case(f"export {fmt}", rc == 1 and no_space_message(err, out_path) and not left
                 and same, f"exit {rc}, {msg[:160]!r}, left behind {left}")

    # /api/export: the server's TMPDIR on a 1 MiB tmpfs
    with SmallDisk(work / "disk-tmp", 1) as disk:
        os.environ["TMPDIR"] = str(disk)
        try:
            server = Server(bin_path, base, work, work / "tokens.txt", threads=2)
        finally:
            del os.environ["TMPDIR"]
        try:
            for fmt in ("gpkg", "kml"):
                c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
                c.request("GET", f"/api/export?source=estates,violations&format={fmt}")
                r = c.getresponse()
                body = r.read()
                c.close()
                left = leftovers(disk)
                case(f"/api/export {fmt}", r.status == 503 and b"no space" in body and not left,
                     f"{r.status} {body[:120]!r}, left behind {left}")
            st, _ = server.get("/healthz")
            case("server after the failed /api/export", st == 200, f"/healthz answered {st}")
        finally:
            server.stop()
    return {"cases": cases, "problems": problems}
