"""The hostile-input corpus (issue 8, section 3).

Every case sends the real server (or the real CLI) something a careless or hostile
client could send, and states the precise answer: the HTTP status (with the error's
`code` and the `parameter` it names), or the CLI's exit code and words its message must
contain (the file, feature, option or parameter at fault). After every case the test
also checks that

  - the server keeps serving: /healthz answers 200 on a new connection;
  - nothing was written: a checksum of every table of the database (layer_versions and
    the audit log included) is the same as before the case.

The cases are data: `CASES` below, built by the `*_cases()` functions, one pytest item
each. `test_corpus_size` prints how many there are (and fails under 200). Files a case
needs (broken shapefiles, a zip bomb, text in GBK) are made by the case itself in a
temporary folder of its own, so each is exactly as broken as its name says.

Failed authentications are rate-limited per client address, so every case that
presents a wrong token sends it from a loopback address of its own.
"""

import hashlib
import itertools
import json
import os
import random
import re
import socket
import struct
import zipfile
from pathlib import Path

import pytest

from conftest import connect, plain_tables, run_cli, write_shapefile
from test_api import INSIDE_E001, TOKENS, Server, build_database, report, write_tokens

DEFAULT = object()  # "the error's parameter is not checked"

# ---------------------------------------------------------------- case records


class Http:
    """One request and its precise answer."""

    def __init__(self, name, method, path, status, code=None, parameter=DEFAULT, body=None,
                 role=None, headers=None, raw=None, zero_matches=False, contains=None,
                 returned=False, limit=None):
        self.name, self.method, self.path, self.status = name, method, path, status
        self.code, self.parameter, self.body, self.role = code, parameter, body, role
        self.headers, self.raw, self.zero_matches = headers or {}, raw, zero_matches
        self.contains = contains  # words the error message must hold
        self.returned = returned  # zero_matches counts numberReturned, not numberMatched
        self.limit = limit  # the limit the self link must show

    def __repr__(self):
        return f"Http({self.name})"


class Cli:
    """One `estatemap` command; `make(tmp)` writes its files and returns the arguments
    after the command and before --db."""

    def __init__(self, name, make, rc, message, command="import"):
        self.name, self.make, self.rc, self.message, self.command = (name, make, rc, message,
                                                                     command)

    def __repr__(self):
        return f"Cli({self.name})"


SQL = {  # SQL metacharacters, as a parameter value
    "quote_or": "' OR '1'='1",
    "drop": "1; DROP TABLE estates; --",
    "dquote": '") OR 1=1 --',
    "union": "0 UNION SELECT sqlite_version()",
    "comment": "estates/**/--",
    "like": "%_%",
}


def q(text):
    """Percent-encode a query value (everything but unreserved characters)."""
    from urllib.parse import quote
    return quote(text, safe="")


def items(layer, query):
    return f"/ogc/collections/{layer}/items?{query}"


# ---------------------------------------------------------------- JSON bodies


def json_cases():
    post, out = "/api/violations", []
    ok = json.dumps(report(*INSIDE_E001)).encode()
    malformed = {
        "open_brace": b"{", "cut_off": ok[:40], "open_array": b"[1,2", "single_quotes":
        b"{'type':'Feature'}", "trailing_comma": b'{"type":"Feature",}', "garbage_after":
        ok + b" x", "two_values": ok + ok, "bare_word": b"nul", "nan_literal":
        b'{"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,31]}}',
        "infinity_literal":
        b'{"type":"Feature","geometry":{"type":"Point","coordinates":[Infinity,31]}}',
        "unquoted_key": b'{type:"Feature"}', "comment": b'/* x */' + ok, "hex_number":
        b'{"type":"Feature","id":0x10}', "control_char_in_string": b'{"type":"Fea\x01ture"}',
        "bad_escape": b'{"type":"\\q"}', "bom_prefix": b"\xef\xbb\xbf" + ok, "whitespace_only":
        b"   \n\t ", "empty": b"", "nul_byte": ok[:20] + b"\x00" + ok[20:],
    }
    for name, body in malformed.items():
        out.append(Http(f"json_malformed_{name}", "POST", post, 400, "invalid_body", body=body,
                        role="inspector"))
    for name, body in {"null": b"null", "array": b"[]", "number": b"123", "string": b'"x"',
                       "true": b"true", "object_empty": b"{}"}.items():
        out.append(Http(f"json_not_a_feature_{name}", "POST", post, 400, "invalid_body",
                        body=body, role="inspector"))
    # huge: over the 1 MiB body limit, declared or not
    big = b'{"type":"Feature","properties":{"description":"' + b"x" * (1 << 20) + b'"}}'
    out.append(Http("json_huge_body", "POST", post, 413, "payload_too_large", body=big,
                    role="inspector"))
    out.append(Http("json_huge_declared_length", "POST", post, 413, "payload_too_large",
                    role="inspector", raw="declared"))
    out.append(Http("json_huge_chunked", "POST", post, 413, "payload_too_large",
                    role="inspector", raw="chunked"))
    out.append(Http("json_huge_on_get_route", "GET", "/ogc/collections", 413,
                    "payload_too_large", raw="declared"))
    long_text = report(*INSIDE_E001, description="违" * 2000)  # 6000 bytes > 4000
    out.append(Http("json_overlong_description", "POST", post, 422, "invalid_value",
                    "description", body=long_text, role="inspector"))
    out.append(Http("json_overlong_category", "POST", post, 422, "invalid_value", "category",
                    body=report(*INSIDE_E001, category="x" * 5000), role="inspector"))
    # deeply nested
    for depth in (65, 1000, 100000):
        out.append(Http(f"json_nested_arrays_{depth}", "POST", post, 400, "invalid_body",
                        body=b"[" * depth + b"]" * depth, role="inspector"))
    nested = "1"
    for _ in range(70):
        nested = '{"a":' + nested + "}"
    body = ('{"type":"Feature","geometry":{"type":"Point","coordinates":[%s,%s]},'
            '"properties":{"category":"乱堆杂物","extra":%s}}' % (*INSIDE_E001, nested))
    out.append(Http("json_nested_extra_70", "POST", post, 400, "invalid_body",
                    body=body.encode(), role="inspector"))
    out.append(Http("json_nested_patch_estate", "PATCH", "/api/estates/E005", 400,
                    "invalid_body", body=b'{"extra":' + b'{"a":' * 80 + b"1" + b"}" * 81,
                    role="planner"))
    out.append(Http("json_wrong_content_type", "POST", post, 415, "unsupported_media_type",
                    body=ok, role="inspector", headers={"Content-Type": "text/plain"}))
    out.append(Http("json_form_content_type", "POST", post, 415, "unsupported_media_type",
                    body=b"type=Feature", role="inspector",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}))
    # the same bodies on the other writes
    for name, body in {"cut_off": b'{"stage":', "array": b"[1,", "gbk": '{"stage":"规划"}'
                       .encode("gbk")}.items():
        out.append(Http(f"json_patch_estate_{name}", "PATCH", "/api/estates/E005", 400,
                        "invalid_body", body=body, role="planner"))
        out.append(Http(f"json_put_renovation_{name}", "PUT", "/api/estates/E005/renovation",
                        400, "invalid_body", body=body, role="planner"))
        out.append(Http(f"json_patch_violation_{name}", "PATCH", "/api/violations/1", 400,
                        "invalid_body", body=body, role="inspector"))
    return out


# ---------------------------------------------------------------- geometry and coordinates


def geometry_cases():
    post, out = "/api/violations", []

    def feature(geometry, **props):
        props.setdefault("category", "乱堆杂物")
        return {"type": "Feature", "geometry": geometry, "properties": props}

    lon, lat = INSIDE_E001
    usage = {  # the body's shape is wrong: 400 naming geometry
        "null": None, "empty_object": {}, "no_coordinates": {"type": "Point"},
        "empty_point": {"type": "Point", "coordinates": []},
        "one_number": {"type": "Point", "coordinates": [lon]},
        "strings": {"type": "Point", "coordinates": [str(lon), str(lat)]},
        "nested": {"type": "Point", "coordinates": [[lon, lat]]},
        "null_coordinate": {"type": "Point", "coordinates": [None, lat]},
        "bowtie_polygon": {"type": "Polygon", "coordinates": [
            [[121.41, 31.0], [121.42, 31.01], [121.42, 31.0], [121.41, 31.01], [121.41, 31.0]]]},
        "empty_polygon": {"type": "Polygon", "coordinates": []},
        "self_crossing_line": {"type": "LineString", "coordinates": [
            [121.41, 31.0], [121.42, 31.01], [121.42, 31.0], [121.41, 31.01]]},
        "multipoint": {"type": "MultiPoint", "coordinates": [[lon, lat]]},
        "collection": {"type": "GeometryCollection", "geometries": []},
        "unknown_type": {"type": "Circle", "coordinates": [lon, lat], "radius": 5},
        "type_number": {"type": 1, "coordinates": [lon, lat]},
        "huge_exponent": None,  # filled below: 1e999 parses as infinity
    }
    for name, geom in usage.items():
        if name == "huge_exponent":
            continue
        out.append(Http(f"geometry_{name}", "POST", post, 400, "invalid_body", "geometry",
                        body=feature(geom), role="inspector"))
    for name, text in {"inf": "1e999", "minus_inf": "-1e999", "nan_string": '"NaN"'}.items():
        body = ('{"type":"Feature","geometry":{"type":"Point","coordinates":[%s,%s]},'
                '"properties":{"category":"乱堆杂物"}}' % (text, lat))
        out.append(Http(f"coordinate_{name}", "POST", post, 400, "invalid_body", "geometry",
                        body=body.encode(), role="inspector"))
    outside = {  # a well-formed point the district does not hold: 422 naming geometry
        "lon_200": [200.0, lat], "lat_95": [lon, 95.0], "lat_minus_91": [lon, -91.0],
        "null_island": [0.0, 0.0], "beijing": [116.4, 39.9], "swapped_axes": [lat, lon],
        "metres_epsg4549": [500000.0, 3440000.0], "metres_web_mercator": [13504000.0,
                                                                         3650000.0],
        "tiny_denormal": [5e-324, 5e-324], "max_double": [1.7976931348623157e308, lat],
    }
    for name, xy in outside.items():
        out.append(Http(f"coordinate_{name}", "POST", post, 422, "invalid_value", "geometry",
                        body=feature({"type": "Point", "coordinates": xy}), role="inspector"))
    # a wrong CRS: a member GeoJSON (RFC 7946) no longer has, or a coords value we lack
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    body = feature({"type": "Point", "coordinates": [lon, lat]})
    body["crs"] = crs
    out.append(Http("crs_member_on_feature", "POST", post, 400, "invalid_body", "crs",
                    body=body, role="inspector"))
    body = feature({"type": "Point", "coordinates": [lon, lat], "crs": crs})
    out.append(Http("crs_member_in_geometry", "POST", post, 400, "invalid_body", "geometry",
                    body=body, role="inspector"))
    for value in ["epsg3857", "EPSG:4549", "wgs84;drop", ""]:
        out.append(Http(f"coords_param_{value or 'empty'}", "POST",
                        f"{post}?coords={q(value)}", 400, "invalid_parameter", "coords",
                        body=report(lon, lat), role="inspector"))
    out.append(Http("coords_gcj02_outside", "POST", f"{post}?coords=gcj02", 422,
                    "invalid_value", "geometry",
                    body=feature({"type": "Point", "coordinates": [0.0, 0.0]}),
                    role="inspector"))
    # a geometry on a PATCH, where geometry cannot change
    out.append(Http("geometry_in_violation_patch", "PATCH", "/api/violations/1", 400,
                    "invalid_body", "geometry",
                    body={"type": "Feature", "geometry": {"type": "Point",
                                                          "coordinates": [0, 0]},
                          "properties": {}}, role="inspector"))
    # query-string coordinates
    for name, bbox in {"nan": "NaN,31,121.5,31.2", "inf": "121,31,inf,31.2",
                       "huge": "121,31,1e999,31.2", "lat_91": "121,31,121.5,91",
                       "lon_minus_181": "-181,31,121.5,31.2", "south_over_north":
                       "121,31.2,121.5,31", "three_numbers": "121,31,121.5",
                       "five_numbers": "121,31,121.5,31.2,1", "empty_part": "121,,121.5,31.2",
                       "words": "west,south,east,north", "hex": "0x79,31,121.5,31.2",
                       "spaces": "121, 31, 121.5, 31.2 ", "trailing_comma": "121,31,121.5,31.2,"
                       }.items():
        out.append(Http(f"bbox_{name}", "GET", items("estates", "bbox=" + q(bbox)), 400,
                        "invalid_parameter", "bbox"))
    out.append(Http("bbox_crs_metres_out_of_range", "GET", items(
        "estates", "bbox=1e300,1e300,2e300,2e300&bbox-crs=" +
        q("http://www.opengis.net/def/crs/EPSG/0/4549")), 400, "invalid_parameter", "bbox"))
    return out


# ---------------------------------------------------------------- a wrong CRS


def crs_cases():
    out = []
    for name, value in {"bare_epsg": "EPSG:4326", "unknown_code":
                        "http://www.opengis.net/def/crs/EPSG/0/9999",
                        "other_crs_we_lack": "http://www.opengis.net/def/crs/EPSG/0/32651",
                        "wkt": 'GEOGCS["WGS 84"]', "urn": "urn:ogc:def:crs:EPSG::4326",
                        "proj_string": "+proj=longlat +datum=WGS84",
                        "sql": SQL["quote_or"]}.items():
        out.append(Http(f"crs_{name}", "GET", items("estates", "crs=" + q(value)), 400,
                        "invalid_parameter", "crs"))
        out.append(Http(f"bbox_crs_{name}", "GET", items(
            "estates", "bbox=121,31,121.5,31.2&bbox-crs=" + q(value)), 400,
            "invalid_parameter", "bbox-crs"))
    out.append(Http("crs_on_one_item", "GET", "/ogc/collections/estates/items/1?crs=EPSG:3857",
                    400, "invalid_parameter", "crs"))
    for value in ["EPSG:99999", "EPSG:3857x", "+proj=fake"]:
        out.append(Http(f"export_crs_{value}", "GET",
                        f"/api/export?source=estates&format=geojson&crs={q(value)}", 400,
                        "invalid_parameter", "crs"))
    return out


# ---------------------------------------------------------------- SQL metacharacters


ITEMS_PARAMS = {  # parameter: (layer, status, zero matches) for a hostile value
    "bbox": ("estates", 400, False), "bbox-crs": ("estates", 400, False),
    "crs": ("estates", 400, False), "limit": ("estates", 400, False),
    "offset": ("estates", 400, False), "datetime": ("violations", 400, False),
    "f": ("estates", 400, False),
    # equality filters: text columns match nothing; typed ones refuse the value
    "code": ("estates", 200, True), "name": ("estates", 200, True),
    "address": ("estates", 200, True), "town_code": ("estates", 200, True),
    "built_year": ("estates", 400, False), "tier": ("estates", 400, False),
    "owners_cofund": ("estates", 400, False), "category": ("violations", 200, True),
    "status": ("violations", 400, False), "description": ("violations", 200, True),
    "reported_at": ("violations", 400, False), "type": ("corridors", 200, True),
    "kind": ("zones", 400, False),
}

ANALYSIS_PARAMS = {
    "corridors": ["types", "buffer", "town", "built-before", "tier", "all"],
    "density": ["by", "town", "category", "group", "status", "from", "to"],
    "hotspots": ["band", "category", "group", "status", "from", "to"],
    "eligibility": ["as-of", "town", "built-before", "failing"],
    "tiers": ["as-of", "town", "by", "require-committee"],
    "progress": ["as-of", "town"],
}


def sql_cases():
    out = []
    payloads = list(SQL.items())
    for param, (layer, status, zero) in ITEMS_PARAMS.items():
        for pname, value in payloads:
            out.append(Http(f"sql_items_{param}_{pname}", "GET",
                            items(layer, f"{param}={q(value)}"), status,
                            None if status == 200 else "invalid_parameter",
                            None if status == 200 else param, zero_matches=zero))
    # a parameter name that is itself SQL
    for pname, value in payloads[:3]:
        out.append(Http(f"sql_items_param_name_{pname}", "GET",
                        items("estates", f"{q(value)}=1"), 400, "unknown_parameter", value))
    # path segments
    for pname, value in payloads:
        v = q(value)
        out.append(Http(f"sql_collection_{pname}", "GET", f"/ogc/collections/{v}/items", 404,
                        "not_found"))
        out.append(Http(f"sql_feature_id_{pname}", "GET", f"/ogc/collections/estates/items/{v}",
                        404, "not_found"))
        out.append(Http(f"sql_estate_card_{pname}", "GET", f"/api/estates/{v}", 404,
                        "not_found"))
        out.append(Http(f"sql_violation_{pname}", "GET", f"/api/violations/{v}", 404,
                        "not_found"))
        out.append(Http(f"sql_tile_layer_{pname}", "GET", f"/tiles/{v}/14/13720/6704.mvt", 404,
                        "not_found"))
        out.append(Http(f"sql_analysis_name_{pname}", "GET", f"/api/analysis/{v}", 404,
                        "not_found"))
    for pname, value in payloads[:2]:
        v = q(value)
        out.append(Http(f"sql_tilejson_{pname}", "GET", f"/tiles/{v}.json", 404, "not_found"))
        out.append(Http(f"sql_estate_renovation_{pname}", "GET",
                        f"/api/estates/{v}/renovation", 404, "not_found"))
        out.append(Http(f"sql_patch_estate_{pname}", "PATCH", f"/api/estates/{v}", 404,
                        "not_found", body={"stage": "planning"}, role="planner"))
        out.append(Http(f"sql_put_renovation_{pname}", "PUT", f"/api/estates/{v}/renovation",
                        404, "not_found", body=[], role="planner"))
        out.append(Http(f"sql_patch_violation_{pname}", "PATCH", f"/api/violations/{v}", 404,
                        "not_found", body={"description": "x"}, role="inspector"))
    # every analysis parameter
    for name, params in ANALYSIS_PARAMS.items():
        for param in params:
            for pname in ("quote_or", "drop"):
                out.append(Http(f"sql_analysis_{name}_{param}_{pname}", "GET",
                                f"/api/analysis/{name}?{param}={q(SQL[pname])}", 400,
                                "invalid_parameter", param))
        out.append(Http(f"sql_analysis_{name}_format", "GET",
                        f"/api/analysis/{name}?format={q(SQL['union'])}", 400,
                        "invalid_parameter", "format"))
        out.append(Http(f"sql_analysis_{name}_lang", "GET",
                        f"/api/analysis/{name}?lang={q(SQL['union'])}", 400,
                        "invalid_parameter", "lang"))
    # the export's parameters
    for param in ["source", "format", "crs", "encoding", "lang", "town", "tier",
                  "built-before", "bbox"]:
        query = {"source": "estates", "format": "geojson"}
        query[param] = SQL["quote_or"]
        qs = "&".join(f"{k}={q(v)}" for k, v in query.items())
        out.append(Http(f"sql_export_{param}", "GET", f"/api/export?{qs}", 400,
                        "invalid_parameter", param))
    # the audit log's parameters (admin): text filters match nothing
    for param, status in [("layer", 400), ("feature_id", 400), ("actor", 200), ("limit", 400),
                          ("offset", 400)]:
        for pname in ("quote_or", "drop"):
            out.append(Http(f"sql_audit_{param}_{pname}", "GET",
                            f"/api/audit?{param}={q(SQL[pname])}", status,
                            None if status == 200 else "invalid_parameter",
                            None if status == 200 else param, role="admin",
                            zero_matches=status == 200))
    # a write's members
    for member in ["category", "status", "reported_at", "resolved_at"]:
        body = report(*INSIDE_E001, **{member: SQL["quote_or"]})
        out.append(Http(f"sql_post_violation_{member}", "POST", "/api/violations", 422,
                        "invalid_value", member, body=body, role="inspector"))
    for member in ["tier", "stage", "plan_date", "housing_type", "built_year"]:
        out.append(Http(f"sql_patch_estate_{member}", "PATCH", "/api/estates/E005", 422,
                        "invalid_value", member, body={member: SQL["drop"]}, role="planner"))
    out.append(Http("sql_patch_estate_member_name", "PATCH", "/api/estates/E005", 400,
                    "invalid_body", SQL["drop"], body={SQL["drop"]: 1}, role="planner"))
    out.append(Http("sql_renovation_status", "PUT", "/api/estates/E005/renovation", 422,
                    "invalid_value", "items[0].status",
                    body=[{"item_id": 1, "status": SQL["quote_or"]}], role="planner"))
    return out


# ---------------------------------------------------------------- path traversal


def traversal_cases():
    forbidden = {
        "dotdot": "/../../etc/passwd", "dotdot_in_middle": "/vendor/../../README.md",
        "encoded_dots": "/%2e%2e/%2e%2e/etc/passwd", "encoded_upper": "/%2E%2E/etc/passwd",
        "encoded_slash": "/..%2f..%2fetc%2fpasswd", "backslash": "/..\\..\\etc\\passwd",
        "encoded_backslash": "/..%5c..%5cetc%5cpasswd", "hidden_git": "/.git/config",
        "hidden_env": "/.env", "dot_segment": "/./index.html", "dots_then_name":
        "/vendor/..%2f..%2fsrc/server.c", "mixed": "/%2e./%2e./etc/passwd",
    }
    out = [Http(f"traversal_static_{n}", "GET", p, 403, "forbidden")
           for n, p in forbidden.items()]
    bad_escape = {"nul": "/index.html%00.js", "nul_alone": "/%00", "dotdot_nul": "/..%00/x",
                  "bad_hex": "/%zz", "truncated_escape": "/index.html%2",
                  "overlong_utf8_dot": "/%c0%ae%c0%ae/etc/passwd",
                  "invalid_utf8": "/%ff%fe", "lone_surrogate": "/%ed%a0%80"}
    out += [Http(f"traversal_static_{n}", "GET", p, 400, "bad_request")
            for n, p in bad_escape.items()]
    # double encoding decodes once: the name "%2e%2e" is just a file that is not there
    out.append(Http("traversal_double_encoded", "GET", "/%252e%252e/%252e%252e/etc/passwd",
                    404, "not_found"))
    # ... but a name holding ".." is refused whatever it is
    out.append(Http("traversal_double_encoded_slash", "GET", "/..%252f..%252fetc%252fpasswd",
                    403, "forbidden"))
    layer_paths = {
        "tile_layer": "/tiles/..%2f..%2fetc%2fpasswd/1/1/1.mvt",
        "tile_layer_dots": "/tiles/../../etc/passwd/1/1/1.mvt",
        "tilejson": "/tiles/..%2f..%2fetc%2fpasswd.json",
        "collection": "/ogc/collections/..%2f..%2fetc%2fpasswd/items",
        "collection_dots": "/ogc/collections/../../etc/passwd",
        "collection_backslash": "/ogc/collections/..%5cestates/items",
        "estate": "/api/estates/..%2f..%2fetc%2fpasswd",
        "analysis": "/api/analysis/..%2fcorridors",
        "export_source": "/api/export?source=..%2f..%2fetc%2fpasswd&format=geojson",
    }
    for n, p in layer_paths.items():
        status = 400 if n == "export_source" else 404
        out.append(Http(f"traversal_{n}", "GET", p, status,
                        "invalid_parameter" if status == 400 else "not_found"))
    for n, p in {"tile_layer_nul": "/tiles/estates%00/1/1/1.mvt",
                 "collection_nul": "/ogc/collections/estates%00/items",
                 "api_nul": "/api/estates/E001%00"}.items():
        out.append(Http(f"traversal_{n}", "GET", p, 400, "bad_request"))
    return out


# ---------------------------------------------------------------- overlong URLs and headers


def overlong_cases():
    out = [
        Http("overlong_path_20k", "GET", "/" + "a" * 20000, 400, "bad_request", raw="line",
             contains=["16384"]),
        Http("overlong_query_9k", "GET", items("estates", "code=" + "x" * 9000), 400,
             "invalid_parameter", contains="8192"),
        Http("overlong_query_many_params", "GET",
             items("estates", "&".join(f"p{i}=1" for i in range(65))), 400,
             "invalid_parameter", contains="64"),
        Http("overlong_header_20k", "GET", "/healthz", 400, "bad_request", raw="header",
             headers={"X-Filler": "y" * 20000}, contains=["16384"]),
        Http("overlong_many_headers", "GET", "/healthz", 431, "headers_too_large",
             raw="many_headers", contains=["63"]),
        Http("overlong_authorization", "POST", "/api/violations", 401, "unauthorized",
             headers={"Authorization": "Bearer " + "A" * 8000}, body=report(*INSIDE_E001)),
        Http("overlong_bearer_with_spaces", "POST", "/api/violations", 401, "unauthorized",
             headers={"Authorization": "Bearer " + "A " * 200}, body=report(*INSIDE_E001)),
        Http("overlong_collection_name", "GET", "/ogc/collections/" + "e" * 10000, 404,
             "not_found"),
        Http("overlong_tile_layers", "GET", "/tiles/" + ",".join(["estates"] * 500) +
             "/1/1/1.mvt", 400, "invalid_parameter", "layers"),
        Http("overlong_host_header", "GET", "/ogc", 200, headers={"Host": "h" * 5000}),
        Http("overlong_estate_id", "GET", "/api/estates/" + "9" * 400, 404, "not_found"),
        Http("overlong_violation_id", "GET", "/api/violations/" + "9" * 400, 404, "not_found"),
    ]
    return out


# ---------------------------------------------------------------- invalid UTF-8 and GBK


def encoding_cases():
    gbk_town = "闵行".encode("gbk")  # C3F6 D0D0: not UTF-8
    pct = "".join(f"%{b:02X}" for b in gbk_town)
    post = "/api/violations"
    out = [
        Http("gbk_query_value", "GET", items("estates", "name=" + pct), 400,
             "invalid_parameter"),
        Http("gbk_query_name", "GET", items("estates", pct + "=1"), 400, "invalid_parameter"),
        Http("gbk_analysis_param", "GET", "/api/analysis/density?category=" + pct, 400,
             "invalid_parameter"),
        Http("gbk_path", "GET", "/api/estates/" + pct, 400, "bad_request"),
        Http("invalid_utf8_query", "GET", items("estates", "name=%FF%FE"), 400,
             "invalid_parameter"),
        Http("invalid_utf8_overlong_slash", "GET", items("estates", "name=%C0%AF"), 400,
             "invalid_parameter"),
        Http("invalid_utf8_surrogate", "GET", items("estates", "name=%ED%A0%80"), 400,
             "invalid_parameter"),
        Http("invalid_utf8_truncated", "GET", items("estates", "name=%E9%97"), 400,
             "invalid_parameter"),
        Http("nul_in_query", "GET", items("estates", "name=a%00b"), 400, "invalid_parameter"),
        Http("bad_escape_in_query", "GET", items("estates", "name=%G1"), 400,
             "invalid_parameter"),
        Http("raw_gbk_in_path", "GET", b"/api/estates/" + gbk_town, 400, "bad_request",
             raw="bytes"),
        Http("raw_gbk_in_query", "GET", b"/ogc/collections/estates/items?name=" + gbk_town,
             400, "bad_request", raw="bytes", contains=["%-encode"]),
        Http("raw_control_in_path", "GET", b"/ogc/\x01collections", 400, "bad_request",
             raw="bytes", contains=["%-encode"]),
        Http("gbk_body", "POST", post, 400, "invalid_body",
             body=json.dumps(report(*INSIDE_E001, description="群租"), ensure_ascii=False)
             .encode("gbk"), role="inspector"),
        Http("latin1_body", "POST", post, 400, "invalid_body",
             body='{"type":"Feature","properties":{"description":"café"}}'.encode("latin-1"),
             role="inspector"),
        Http("utf16_body", "POST", post, 400, "invalid_body",
             body=json.dumps(report(*INSIDE_E001)).encode("utf-16"), role="inspector"),
        Http("escaped_lone_surrogate", "POST", post, 400, "invalid_body", None,
             contains=["surrogate"],
             body=('{"type":"Feature","geometry":{"type":"Point","coordinates":[%s,%s]},'
                   '"properties":{"category":"乱堆杂物","description":"\\ud800"}}'
                   % INSIDE_E001).encode(), role="inspector"),
        Http("escaped_nul", "POST", post, 400, "invalid_body", None, contains=["NUL"],
             body=('{"type":"Feature","geometry":{"type":"Point","coordinates":[%s,%s]},'
                   '"properties":{"category":"乱堆杂物","description":"a\\u0000b"}}'
                   % INSIDE_E001).encode(), role="inspector"),
        Http("gbk_authorization", "POST", post, 401, "unauthorized",
             headers={"Authorization": b"Bearer " + gbk_town}, body=report(*INSIDE_E001),
             raw="auth_bytes"),
    ]
    return out


# ---------------------------------------------------------------- tiles: z, x, y


def tile_cases():
    out = []
    bad = {  # name: (z, x, y, parameter)
        "z_23": ("23", "0", "0", "z"), "z_negative": ("-1", "0", "0", "z"),
        "z_huge": ("99999999999999999999", "0", "0", "z"), "z_fraction": ("1.5", "0", "0", "z"),
        "z_hex": ("0x1", "0", "0", "z"), "z_plus": ("+1", "0", "0", "z"),
        "z_space": ("%201", "0", "0", "z"), "z_nan": ("NaN", "0", "0", "z"),
        "x_is_2_pow_z": ("2", "4", "0", "x"), "x_negative": ("2", "-1", "0", "x"),
        "x_overflow": ("22", "18446744073709551617", "0", "x"),
        "x_int_max": ("22", "2147483648", "0", "x"), "y_is_2_pow_z": ("3", "0", "8", "y"),
        "y_negative": ("3", "0", "-1", "y"), "y_overflow": ("0", "0", "9" * 40, "y"),
        "y_exponent": ("3", "0", "1e1", "y"), "z0_x1": ("0", "1", "0", "x"),
        "z22_x_too_big": ("22", "4194304", "0", "x"),
    }
    for name, (z, x, y, param) in bad.items():
        for ext in ("mvt", "geojson"):
            out.append(Http(f"tile_{name}_{ext}", "GET", f"/tiles/estates/{z}/{x}/{y}.{ext}",
                            400, "invalid_parameter", param))
    out += [
        Http("tile_empty_z", "GET", "/tiles/estates//0/0.mvt", 400, "invalid_parameter", "z"),
        Http("tile_bad_extension", "GET", "/tiles/estates/0/0/0.png", 404, "not_found"),
        Http("tile_query", "GET", "/tiles/estates/0/0/0.mvt?" + q(SQL["drop"]) + "=1", 400,
             "unknown_parameter"),
        Http("tile_layer_twice", "GET", "/tiles/estates,estates/0/0/0.mvt", 400,
             "invalid_parameter", "layers"),
        Http("tile_layer_empty", "GET", "/tiles/estates,/0/0/0.mvt", 400, "invalid_parameter",
             "layers"),
        Http("tile_non_spatial_layer", "GET", "/tiles/renovation/0/0/0.mvt", 404, "not_found",
             "layers"),
        Http("tilejson_bad_f", "GET", "/tiles/estates.json?f=" + q(SQL["quote_or"]), 400,
             "invalid_parameter", "f"),
    ]
    return out


# ---------------------------------------------------------------- limit and offset


def paging_cases():
    out = []
    bad_limit = {"zero": "0", "negative": "-1", "int64_min": "-9223372036854775808",
                 "fraction": "1.5",
                 "exponent": "1e3", "plus": "+5", "leading_space": "%205",
                 "trailing_space": "5%20", "hex": "0x10", "empty": "", "nan": "NaN",
                 "inf": "inf", "words": "ten"}
    for name, value in bad_limit.items():
        out.append(Http(f"limit_{name}", "GET", items("estates", "limit=" + value), 400,
                        "invalid_parameter", "limit"))
    bad_offset = {"negative": "-1", "int64_min": "-9223372036854775808",
                  "overflow": "9223372036854775808", "huge": "99999999999999999999999",
                  "fraction": "0.5", "exponent": "1e309", "hex": "0x1", "empty": "",
                  "words": "none"}
    for name, value in bad_offset.items():
        out.append(Http(f"offset_{name}", "GET", items("estates", "offset=" + value), 400,
                        "invalid_parameter", "offset"))
    # past the end is no error: an empty page, no next link
    out.append(Http("offset_int64_max", "GET", items("estates", "offset=9223372036854775807"),
                    400, "invalid_parameter", "offset", contains=["999999999999999999"]))
    # past the end is no error: an empty page
    out.append(Http("offset_past_the_end", "GET", items("estates", "offset=" + "9" * 18), 200,
                    zero_matches=True, returned=True))
    # a limit over the maximum, however large, is clamped to it (OGC API - Features)
    for name, value in {"clamped": "99999999", "overflow_clamped": "9" * 30}.items():
        out.append(Http(f"limit_{name}", "GET", items("estates", "limit=" + value), 200,
                        limit=10000))
    for name, value in {"negative": "-5", "zero": "0", "overflow": "9" * 30}.items():
        out.append(Http(f"audit_limit_{name}", "GET", f"/api/audit?limit={value}", 400,
                        "invalid_parameter", "limit", role="admin"))
        out.append(Http(f"audit_offset_{name}", "GET", f"/api/audit?offset={value}",
                        200 if name == "zero" else 400,
                        None if name == "zero" else "invalid_parameter",
                        None if name == "zero" else "offset", role="admin"))
    return out


# ---------------------------------------------------------------- methods and auth oddities


def misc_cases():
    out = [
        Http("method_delete", "DELETE", "/api/estates/E001", 405, "method_not_allowed"),
        Http("method_trace", "TRACE", "/ogc", 400, "bad_request", contains=["method"]),
        Http("method_post_ogc", "POST", "/ogc/collections/estates/items", 405,
             "method_not_allowed", body={"x": 1}),
        Http("auth_basic_scheme", "POST", "/api/violations", 401, "unauthorized",
             headers={"Authorization": "Basic YWRtaW46YWRtaW4="}, body=report(*INSIDE_E001)),
        Http("auth_bearer_empty", "POST", "/api/violations", 401, "unauthorized",
             headers={"Authorization": "Bearer "}, body=report(*INSIDE_E001)),
        Http("auth_sql_token", "POST", "/api/violations", 401, "unauthorized",
             headers={"Authorization": "Bearer ' OR '1'='1"}, body=report(*INSIDE_E001)),
        Http("auth_token_in_query_only", "POST", "/api/violations?access_token=" +
             TOKENS["admin"][1], 401, "unauthorized", body=report(*INSIDE_E001)),
        Http("auth_inspector_patches_estate", "PATCH", "/api/estates/E005", 403, "forbidden",
             body={"stage": "planning"}, role="inspector"),
    ]
    return out


# ---------------------------------------------------------------- the CLI: files


def _shapefile(tmp, name="estates"):
    path = write_shapefile(tmp / f"{name}.shp", [
        ({"code": "H1", "name": "坏文件小区"},
         "POLYGON((121.402 31.002,121.41 31.002,121.41 31.01,121.402 31.002))")])
    return path


def broken_shx(tmp):
    shp = _shapefile(tmp)
    shx = shp.with_suffix(".shx")
    shx.write_bytes(shx.read_bytes()[:60])  # header cut short
    return ["estates", shp]


def garbage_shx(tmp):
    shp = _shapefile(tmp)
    shx = shp.with_suffix(".shx")
    data = bytearray(shx.read_bytes())
    data[100:108] = struct.pack(">ii", 0x7FFFFFF0, 0x7FFFFFF0)  # offset far past the .shp
    shx.write_bytes(bytes(data))
    return ["estates", shp]


def missing_shx(tmp):
    shp = _shapefile(tmp)
    shp.with_suffix(".shx").unlink()
    shp.with_suffix(".dbf").unlink()
    return ["estates", shp]


def broken_dbf(tmp):
    shp = _shapefile(tmp)
    dbf = shp.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes()[:20])
    return ["estates", shp]


def garbage_dbf(tmp):
    shp = _shapefile(tmp)
    shp.with_suffix(".dbf").write_bytes(random.Random(512).randbytes(512))
    return ["estates", shp]


def dbf_header(offset, fmt, value):
    """A .dbf whose header field at `offset` is overwritten with a nonsense value."""
    def make(tmp):
        shp = _shapefile(tmp)
        dbf = shp.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        struct.pack_into(fmt, data, offset, value)
        dbf.write_bytes(bytes(data))
        return ["estates", shp]
    return make


def broken_shx_in_zip(tmp):
    broken_shx(tmp)
    z = tmp / "estates.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in tmp.glob("estates.*"):
            if f.suffix != ".zip":
                zf.write(f, f.name)
    return ["estates", z]


def shp_gbk_without_cpg(tmp):
    """GBK text in a DBF marked UTF-8 by its .cpg: refused, naming the field."""
    shp = _shapefile(tmp)
    dbf = shp.with_suffix(".dbf")
    data = dbf.read_bytes()
    utf8 = "坏文件小区".encode("utf-8")
    gbk = "坏文件小区".encode("gbk").ljust(len(utf8), b" ")
    dbf.write_bytes(data.replace(utf8, gbk))
    return ["estates", shp]


def zip_bomb(tmp):
    """1 GiB of spaces inside a GeoJSON, as a 1 MB zip."""
    z = tmp / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("estates.geojson", "w", force_zip64=True) as f:
            f.write(b'{"type":"FeatureCollection","features":[')
            chunk = b" " * (1 << 20)
            for _ in range(1024):
                f.write(chunk)
            f.write(b"]}")
    return ["estates", z]


def nested_zip(tmp):
    inner = tmp / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("estates.geojson", '{"type":"FeatureCollection","features":[]}')
    outer = tmp / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        for i in range(3):
            zf.write(inner, f"inner{i}.zip")
    return ["estates", outer]


def geojson_text(tmp, text, name="estates.geojson"):
    p = tmp / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return ["estates", p]


def feature_json(coords_text, kind="Polygon", props='{"code":"H1","name":"坏小区"}'):
    return ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":%s,'
            '"geometry":{"type":"%s","coordinates":%s}}]}' % (props, kind, coords_text))


def csv_text(tmp, data, name="violations.csv"):
    p = tmp / name
    p.write_bytes(data)
    return ["violations", p]


def cli_cases():
    ring = "[[121.402,31.002],[121.41,31.002],[121.41,31.01],[121.402,31.002]]"
    cases = [
        Cli("shp_broken_shx", broken_shx, 1, ["estates.sh"]),
        Cli("shp_garbage_shx", garbage_shx, 1, ["estates.sh"]),
        Cli("shp_missing_shx_and_dbf", missing_shx, 1, ["estates.sh"]),
        Cli("shp_broken_dbf", broken_dbf, 1, ["estates.dbf", "truncated"]),
        Cli("shp_garbage_dbf", garbage_dbf, 1, ["estates.dbf"]),
        Cli("shp_dbf_header_length", dbf_header(8, "<H", 65000), 1, ["estates.dbf"]),
        Cli("shp_dbf_record_length", dbf_header(10, "<H", 1), 1, ["estates.dbf"]),
        Cli("shp_broken_shx_in_zip", broken_shx_in_zip, 1, ["estates.zip"]),
        Cli("shp_gbk_text_marked_utf8", shp_gbk_without_cpg, 1, ["name", "--encoding"]),
        Cli("zip_bomb", zip_bomb, 1, ["bomb.zip", "zip bomb"]),
        Cli("zip_nested", nested_zip, 1, ["outer.zip"]),
        Cli("geojson_malformed", lambda t: geojson_text(t, '{"type":"FeatureCollection",'),
            1, ["estates.geojson"]),
        Cli("geojson_deeply_nested", lambda t: geojson_text(
            t, feature_json("[" * 100000 + "]" * 100000)), 1, ["estates.geojson"]),
        Cli("geojson_invalid_utf8", lambda t: geojson_text(
            t, feature_json("[" + ring + "]", props='{"code":"H1","name":"\xff\xfe"}')
            .encode("latin-1")), 1, ["estates.geojson"]),
        Cli("geojson_gbk", lambda t: geojson_text(
            t, feature_json("[" + ring + "]", props='{"code":"H1","name":"闵行"}')
            .encode("gbk")), 1, ["name", "--encoding"]),
        Cli("geojson_nan_coordinate", lambda t: geojson_text(
            t, feature_json("[[[NaN,31.002],[121.41,31.002],[121.41,31.01],[NaN,31.002]]]")),
            1, ["feature 1", "H1"]),
        Cli("geojson_inf_coordinate", lambda t: geojson_text(
            t, feature_json("[[[1e999,31.002],[121.41,31.002],[121.41,31.01],[1e999,31.002]]]"
                            )), 1, ["feature 1"]),
        Cli("geojson_out_of_range", lambda t: geojson_text(
            t, feature_json("[[[321.4,31.0],[321.41,31.0],[321.41,31.01],[321.4,31.0]]]")),
            1, ["feature 1", "H1"]),
        Cli("geojson_lat_out_of_range", lambda t: geojson_text(
            t, feature_json("[[[121.4,91.0],[121.41,91.0],[121.41,91.01],[121.4,91.0]]]")),
            1, ["feature 1", "H1"]),
        Cli("geojson_empty_geometry", lambda t: geojson_text(t, feature_json("[]")), 1,
            ["feature 1", "H1"]),
        Cli("geojson_null_geometry", lambda t: geojson_text(
            t, '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
               '{"code":"H1","name":"坏小区"},"geometry":null}]}'), 1, ["feature 1", "H1"]),
        Cli("geojson_collapsed_polygon", lambda t: geojson_text(
            t, feature_json("[[[121.4,31.0],[121.41,31.0],[121.4,31.0],[121.4,31.0]]]")), 1,
            ["feature 1", "H1"]),
        Cli("geojson_two_point_ring", lambda t: geojson_text(
            t, feature_json("[[[121.4,31.0],[121.4,31.0]]]")), 1, ["feature 1"]),
        Cli("geojson_wrong_type", lambda t: geojson_text(
            t, feature_json("[121.4,31.0]", kind="Point")), 1, ["feature 1", "H1"]),
        Cli("geojson_wrong_crs", lambda t: geojson_text(t, (
            '{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":'
            '"urn:ogc:def:crs:EPSG::4549"}},"features":[{"type":"Feature","properties":'
            '{"code":"H1","name":"坏小区"},"geometry":{"type":"Polygon","coordinates":[' + ring +
            ']}}]}')),
            1, ["feature 1", "H1"]),
        Cli("crs_option_unknown", lambda t: geojson_text(
            t, feature_json("[" + ring + "]")) + ["--crs", "EPSG:99999"], 2, ["--crs"]),
        Cli("crs_option_sql", lambda t: geojson_text(
            t, feature_json("[" + ring + "]")) + ["--crs", SQL["drop"]], 2, ["--crs"]),
        Cli("csv_invalid_utf8", lambda t: csv_text(
            t, "lon,lat,reported_at,category,description\n121.404,31.013,2016-05-01,乱堆杂物,".encode()
            + b"\xff\xfe\n"), 1,
            ["violations.csv", "--encoding"]),
        Cli("csv_gbk", lambda t: csv_text(
            t, "lon,lat,reported_at,category\n121.404,31.013,2016-05-01,乱堆杂物\n".encode("gbk")), 1,
            ["violations.csv", "--encoding"]),
        Cli("csv_nan", lambda t: csv_text(t, b"lon,lat,reported_at,category\nNaN,31.013,2016-05-01,x\n"), 1,
            ["feature 1"]),
        Cli("csv_inf", lambda t: csv_text(t, "lon,lat,reported_at,category\ninf,-inf,2016-05-01,乱堆杂物\n".encode()),
            1, ["feature 1"]),
        Cli("csv_wkt_sql", lambda t: csv_text(
            t, ("wkt,reported_at,category\n\"POINT(121.404 31.013)); DROP TABLE violations; --\","
                "2016-05-01,乱堆杂物\n").encode()), 1, ["feature 1"]),
        Cli("csv_where_sql", lambda t: csv_text(
            t, "lon,lat,reported_at,category\n121.404,31.013,2016-05-01,乱堆杂物\n".encode()) +
            ["--where", "1=1; DROP TABLE violations"], 2, ["--where"]),
        Cli("csv_set_unknown_column", lambda t: csv_text(
            t, "lon,lat,reported_at,category\n121.404,31.013,2016-05-01,乱堆杂物\n".encode()) +
            ["--set", "id; DROP TABLE x=1"], 2, ["--set"]),
        Cli("layer_sql", lambda t: ["estates; DROP TABLE estates", t / "x.geojson"], 2,
            ["estates; DROP TABLE estates"]),
        Cli("layer_traversal", lambda t: ["../../etc/passwd", t / "x.geojson"], 2,
            ["../../etc/passwd"]),
        Cli("file_traversal_missing", lambda t: ["estates", t / ".." / ".." / "nope.geojson"],
            1, ["nope.geojson"]),
        Cli("file_is_a_directory", lambda t: ["estates", t], 1, ["{folder}"]),
        Cli("file_dev_zero", lambda t: ["estates", Path("/dev/zero")], 1, ["/dev/zero"]),
        Cli("file_empty", lambda t: geojson_text(t, b""), 1, ["estates.geojson"]),
        Cli("file_binary", lambda t: geojson_text(t, os.urandom(4096), "x.geojson"), 1,
            ["x.geojson"]),
    ]
    return cases


def all_cases():
    cases = (json_cases() + geometry_cases() + crs_cases() + sql_cases() + traversal_cases() +
             overlong_cases() + encoding_cases() + tile_cases() + paging_cases() +
             misc_cases() + cli_cases())
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, dupes
    return cases


CASES = all_cases()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def database(bin_path, work):
    return build_database(bin_path, work, "hostile.sqlite")


@pytest.fixture(scope="module")
def server(bin_path, database, work):
    s = Server(bin_path, database, work, "--tokens", write_tokens(work / "tokens.txt"))
    yield s
    rc = s.stop()
    assert rc == 0, s.stderr()


_sources = itertools.count(2)


def fresh_source():
    """A loopback address of its own (127.0.2.N), so no case meets the rate limit."""
    n = next(_sources)
    return f"127.0.{2 + n // 250}.{1 + n % 250}"


# ---------------------------------------------------------------- raw requests


def raw_exchange(port, data, timeout=60):
    """Send bytes as they are; return (status, headers text, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    resp = b"".join(chunks)
    head, _, body = resp.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    assert m, f"no HTTP answer: {resp[:200]!r}"
    return int(m.group(1)), head.decode("latin-1"), body


def send_raw(server, case):
    token = {"Authorization": f"Bearer {TOKENS[case.role][1]}"} if case.role else {}
    if case.raw == "declared":
        head = (f"{case.method} {case.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {10 << 20}\r\n")
        head += "".join(f"{k}: {v}\r\n" for k, v in token.items())
        return raw_exchange(server.port, head.encode() + b"\r\n" + b"{" * 1000)
    if case.raw == "chunked":
        head = (f"{case.method} {case.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
        head += "".join(f"{k}: {v}\r\n" for k, v in token.items())
        piece = b" " * 65536
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(20)) + b"0\r\n\r\n"
        return raw_exchange(server.port, head.encode() + b"\r\n" + body)
    if case.raw in ("line", "header"):
        head = f"{case.method} {case.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in case.headers.items())
        return raw_exchange(server.port, head.encode() + b"\r\n")
    if case.raw == "many_headers":
        head = f"GET {case.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        head += "".join(f"X-H{i}: {i}\r\n" for i in range(200))
        return raw_exchange(server.port, head.encode() + b"\r\n")
    if case.raw == "bytes":
        return raw_exchange(server.port, case.method.encode() + b" " + case.path +
                            b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    if case.raw == "auth_bytes":
        body = json.dumps(case.body).encode()
        return raw_exchange(server.port, (
            f"{case.method} {case.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n").encode() +
            b"Authorization: " + case.headers["Authorization"] + b"\r\n\r\n" + body)
    raise AssertionError(case.raw)


def error_body(body):
    doc = json.loads(body)
    e = doc["error"]
    assert set(e) == {"code", "message", "parameter"}, e
    assert e["message"], e
    return e


def run_http(server, case):
    if case.raw:
        status, head, body = send_raw(server, case)
        ctype = re.search(r"(?im)^content-type:\s*(\S+)", head)
        ctype = ctype.group(1) if ctype else ""
    else:
        r = server.call(case.method, case.path, case.body, role=case.role,
                        headers=case.headers, source=fresh_source())
        status, body, ctype = r.status, r.body, r.headers.get("Content-Type", "")
    assert status == case.status, (case.name, status, body[:300])
    if status >= 400:
        assert ctype == "application/json", (case.name, ctype)
        e = error_body(body)
        if case.code:
            assert e["code"] == case.code, (case.name, e)
        if case.parameter is not DEFAULT:
            assert e["parameter"] == case.parameter, (case.name, e)
        for word in case.contains or []:
            assert word in e["message"], (case.name, e)
    elif case.zero_matches:
        doc = json.loads(body)
        n = doc["numberReturned"] if case.returned else doc.get("numberMatched")
        assert n == 0, (case.name, n)
    elif case.limit:
        doc = json.loads(body)
        self_link = [x["href"] for x in doc["links"] if x["rel"] == "self"][0]
        assert f"limit={case.limit}&" in self_link, (case.name, self_link)


def run_cli_case(bin_path, database, tmp_path, case):
    folder = tmp_path / case.name
    folder.mkdir()
    args = case.make(folder)
    r = run_cli(bin_path, case.command, *args, "--db", database, timeout=300)
    assert r.rc == case.rc, r
    for word in case.message:
        word = word.replace("{folder}", str(folder))
        assert word in r.err, (case.name, word, r)
    assert "Traceback" not in r.err and "Segmentation" not in r.err


def checksums(db):
    """{table: SHA-256 of its rows} for every plain table (layer_versions, audit_log and
    the R*Tree's shadow tables included), over one read-only connection."""
    out = {}
    con = connect(db)
    try:
        for table in plain_tables(db):
            h = hashlib.sha256()
            for row in con.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                h.update(repr(row).encode("utf-8"))
            out[table] = h.hexdigest()
    finally:
        con.close()
    return out


# ---------------------------------------------------------------- the tests


def test_corpus_size():
    kinds = {}
    for c in CASES:
        kinds[type(c).__name__] = kinds.get(type(c).__name__, 0) + 1
    print(f"\nhostile-input corpus: {len(CASES)} cases "
          f"({kinds.get('Http', 0)} HTTP requests, {kinds.get('Cli', 0)} CLI imports)")
    assert len(CASES) >= 200


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile(case, server, database, bin_path, tmp_path):
    before = checksums(database)
    if isinstance(case, Http):
        run_http(server, case)
    else:
        run_cli_case(bin_path, database, tmp_path, case)
    # the server keeps serving, on a new connection
    health = server.get("/healthz")
    assert health.status == 200, (case.name, health)
    assert checksums(database) == before, f"{case.name} changed the database"
