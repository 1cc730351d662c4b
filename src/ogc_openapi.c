/* ogc_openapi.c -- the OpenAPI 3.0 document served at /ogc/api, and the JSON
 * Schema of each collection's features at /ogc/collections/{id}/schema.
 *
 * The fixed part (shared schemas, parameters, responses) is one JSON literal; the
 * per-collection paths are generated from the layer list, so each items path lists
 * exactly the query parameters that path accepts -- including one equality filter
 * per column, with its type and allowed values. Clients such as GDAL read those
 * parameters to decide which filters they can send to the server, and GDAL reads a
 * collection's schema to type its fields even when the first page holds only nulls. */
#include "crs.h"
#include "ogc.h"

#include <stdio.h>
#include <string.h>

#ifndef ESTATEMAP_VERSION
#define ESTATEMAP_VERSION "0"
#endif

static const char fixed_part[] =
    "{"
    "\"openapi\":\"3.0.3\","
    "\"info\":{\"title\":\"estatemap OGC API - Features\","
    "\"description\":\"The layers of Minhang District's Beautiful Homes (美丽家园) programme: "
    "towns, residential estates, grid cells, violation reports, corridors and key areas. "
    "Coordinates are stored in lon/lat (CRS84); the crs parameter reprojects them. Times are "
    "Shanghai local time. Errors are JSON: {\\\"error\\\":{\\\"code\\\",\\\"message\\\","
    "\\\"parameter\\\"}}; any query parameter not listed for a path is answered with 400.\","
    "\"license\":{\"name\":\"Map data includes OpenStreetMap data (ODbL)\","
    "\"url\":\"https://www.openstreetmap.org/copyright\"}},"
    "\"tags\":[{\"name\":\"Capabilities\",\"description\":\"what this API offers\"},"
    "{\"name\":\"Data\",\"description\":\"the features\"}],"
    "\"paths\":{"
    "\"/\":{\"get\":{\"tags\":[\"Capabilities\"],\"summary\":\"landing page\","
    "\"operationId\":\"getLandingPage\",\"parameters\":[{\"$ref\":\"#/components/parameters/f\"}],"
    "\"responses\":{\"200\":{\"description\":\"links to the API definition, the conformance "
    "classes and the collections\",\"content\":{\"application/json\":{\"schema\":"
    "{\"$ref\":\"#/components/schemas/landingPage\"}}}},"
    "\"400\":{\"$ref\":\"#/components/responses/InvalidParameter\"},"
    "\"500\":{\"$ref\":\"#/components/responses/ServerError\"}}}},"
    "\"/conformance\":{\"get\":{\"tags\":[\"Capabilities\"],\"summary\":\"conformance classes\","
    "\"operationId\":\"getConformanceDeclaration\","
    "\"parameters\":[{\"$ref\":\"#/components/parameters/f\"}],"
    "\"responses\":{\"200\":{\"description\":\"the conformance classes this API implements\","
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
    "confClasses\"}}}},\"400\":{\"$ref\":\"#/components/responses/InvalidParameter\"},"
    "\"500\":{\"$ref\":\"#/components/responses/ServerError\"}}}},"
    "\"/api\":{\"get\":{\"tags\":[\"Capabilities\"],\"summary\":\"this API definition\","
    "\"operationId\":\"getAPIDefinition\",\"parameters\":[{\"$ref\":\"#/components/parameters/"
    "f\"}],"
    "\"responses\":{\"200\":{\"description\":\"the OpenAPI 3.0 document\",\"content\":"
    "{\"application/vnd.oai.openapi+json;version=3.0\":{\"schema\":{\"type\":\"object\"}}}},"
    "\"400\":{\"$ref\":\"#/components/responses/InvalidParameter\"},"
    "\"500\":{\"$ref\":\"#/components/responses/ServerError\"}}}},"
    "\"/collections\":{\"get\":{\"tags\":[\"Capabilities\"],\"summary\":\"the feature "
    "collections\",\"operationId\":\"getCollections\","
    "\"parameters\":[{\"$ref\":\"#/components/parameters/f\"}],"
    "\"responses\":{\"200\":{\"description\":\"the six layers, with extents and CRS lists\","
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
    "collections\"}}}},\"400\":{\"$ref\":\"#/components/responses/InvalidParameter\"},"
    "\"500\":{\"$ref\":\"#/components/responses/ServerError\"},"
    "\"503\":{\"$ref\":\"#/components/responses/Unavailable\"}}}}"
    "},"
    "\"components\":{"
    "\"parameters\":{"
    "\"f\":{\"name\":\"f\",\"in\":\"query\",\"required\":false,\"description\":\"the response "
    "format; only JSON is offered\",\"schema\":{\"type\":\"string\",\"enum\":[\"json\"]},"
    "\"style\":\"form\",\"explode\":false},"
    "\"bbox\":{\"name\":\"bbox\",\"in\":\"query\",\"required\":false,\"description\":\"only "
    "features whose geometry intersects this box: lower corner then upper corner, 4 numbers (or "
    "6 with heights, which are ignored), in the axis order of bbox-crs (CRS84: "
    "west,south,east,north). With CRS84 a west edge greater than the east edge crosses the "
    "antimeridian.\",\"schema\":{\"type\":\"array\",\"minItems\":4,\"maxItems\":6,"
    "\"items\":{\"type\":\"number\"}},\"style\":\"form\",\"explode\":false},"
    "\"limit\":{\"name\":\"limit\",\"in\":\"query\",\"required\":false,\"description\":\"the "
    "most features in one page; values above 10000 are clamped to 10000, 0 or less is a "
    "400\",\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000,\"default\":10},"
    "\"style\":\"form\",\"explode\":false},"
    "\"offset\":{\"name\":\"offset\",\"in\":\"query\",\"required\":false,\"description\":\"how "
    "many matching features to skip (features are in id order); next and prev links carry "
    "it\",\"schema\":{\"type\":\"integer\",\"minimum\":0,\"default\":0},\"style\":\"form\","
    "\"explode\":false},"
    "\"datetime\":{\"name\":\"datetime\",\"in\":\"query\",\"required\":false,\"description\":"
    "\"violations reported at this RFC 3339 instant or in this interval (START/END, ../END, "
    "START/..); a bare date is the whole day, a time without an offset is Shanghai time; "
    "matched on reported_at\",\"schema\":{\"type\":\"string\"},\"style\":\"form\","
    "\"explode\":false},"
    "\"featureId\":{\"name\":\"featureId\",\"in\":\"path\",\"required\":true,\"description\":"
    "\"the feature's id (its row id)\",\"schema\":{\"type\":\"integer\",\"minimum\":1}}"
    "},"
    "\"schemas\":{"
    "\"link\":{\"type\":\"object\",\"required\":[\"href\",\"rel\"],\"properties\":{"
    "\"href\":{\"type\":\"string\"},\"rel\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"},"
    "\"title\":{\"type\":\"string\"}}},"
    "\"landingPage\":{\"type\":\"object\",\"required\":[\"links\"],\"properties\":{"
    "\"title\":{\"type\":\"string\"},\"description\":{\"type\":\"string\"},"
    "\"links\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/link\"}}}},"
    "\"confClasses\":{\"type\":\"object\",\"required\":[\"conformsTo\"],\"properties\":{"
    "\"conformsTo\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}},"
    "\"extent\":{\"type\":\"object\",\"properties\":{"
    "\"spatial\":{\"type\":\"object\",\"properties\":{\"bbox\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"array\",\"minItems\":4,\"maxItems\":4,\"items\":{\"type\":\"number\"}}},"
    "\"crs\":{\"type\":\"string\"}}},"
    "\"temporal\":{\"type\":\"object\",\"properties\":{\"interval\":{\"type\":\"array\","
    "\"items\":{\"type\":\"array\",\"minItems\":2,\"maxItems\":2,\"items\":{\"type\":\"string\","
    "\"nullable\":true}}},\"trs\":{\"type\":\"string\"}}}}},"
    "\"collection\":{\"type\":\"object\",\"required\":[\"id\",\"links\"],\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},"
    "\"description\":{\"type\":\"string\"},\"itemType\":{\"type\":\"string\"},"
    "\"extent\":{\"$ref\":\"#/components/schemas/extent\"},"
    "\"crs\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"storageCrs\":{\"type\":\"string\"},"
    "\"links\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/link\"}}}},"
    "\"collections\":{\"type\":\"object\",\"required\":[\"links\",\"collections\"],"
    "\"properties\":{\"links\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/"
    "link\"}},\"crs\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"collections\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/"
    "collection\"}}}},"
    "\"geometryGeoJSON\":{\"type\":\"object\",\"nullable\":true,\"required\":[\"type\"],"
    "\"properties\":{\"type\":{\"type\":\"string\",\"enum\":[\"Point\",\"MultiPoint\","
    "\"LineString\",\"MultiLineString\",\"Polygon\",\"MultiPolygon\",\"GeometryCollection\"]},"
    "\"coordinates\":{\"type\":\"array\",\"items\":{}},"
    "\"geometries\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}}},"
    "\"exception\":{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":{"
    "\"type\":\"object\",\"required\":[\"code\",\"message\",\"parameter\"],\"properties\":{"
    "\"code\":{\"type\":\"string\",\"description\":\"invalid_parameter, unknown_parameter, "
    "not_found, forbidden, method_not_allowed, payload_too_large, unavailable, internal\"},"
    "\"message\":{\"type\":\"string\"},"
    "\"parameter\":{\"type\":\"string\",\"nullable\":true,\"description\":\"the query "
    "parameter at fault, if any\"}}}}}"
    "},"
    "\"headers\":{"
    "\"Content-Crs\":{\"description\":\"the CRS of the coordinates, as <URI>\","
    "\"schema\":{\"type\":\"string\"}}"
    "},"
    "\"responses\":{"
    "\"InvalidParameter\":{\"description\":\"a query parameter is unknown or has a bad value\","
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
    "exception\"}}}},"
    "\"NotFound\":{\"description\":\"no such collection or feature\",\"content\":"
    "{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/exception\"}}}},"
    "\"ServerError\":{\"description\":\"the server failed; the details are in its log\","
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/"
    "exception\"}}}},"
    "\"Unavailable\":{\"description\":\"the database cannot be opened\",\"content\":"
    "{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/exception\"}}}}"
    "}}}";

static json_object *str(const char *s) {
    return json_object_new_string(s);
}

static json_object *ref(const char *target) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "$ref", str(target));
    return o;
}

static json_object *crs_param(const char *name, const char *description) {
    json_object *p = json_object_new_object();
    json_object_object_add(p, "name", str(name));
    json_object_object_add(p, "in", str("query"));
    json_object_object_add(p, "required", json_object_new_boolean(0));
    json_object_object_add(p, "description", str(description));
    json_object *schema = json_object_new_object();
    json_object_object_add(schema, "type", str("string"));
    json_object_object_add(schema, "format", str("uri"));
    json_object *values = json_object_new_array();
    for (size_t i = 0; i < em_crs_count(); i++)
        json_object_array_add(values, str(em_crs_at(i)->uri));
    json_object_object_add(schema, "enum", values);
    json_object_object_add(schema, "default", str(EM_CRS84_URI));
    json_object_object_add(p, "schema", schema);
    json_object_object_add(p, "style", str("form"));
    json_object_object_add(p, "explode", json_object_new_boolean(0));
    return p;
}

/* The JSON schema of a column, as a property (nullable) or as a filter value. */
static json_object *column_schema(const em_column *col, int as_property) {
    json_object *s = json_object_new_object();
    switch (col->type) {
    case EM_COL_TEXT:
        json_object_object_add(s, "type", str("string"));
        if (col->domain) {
            json_object *values = json_object_new_array();
            for (int i = 0; col->domain[i]; i++)
                json_object_array_add(values, str(col->domain[i]));
            json_object_object_add(s, "enum", values);
        }
        break;
    case EM_COL_INTEGER:
        json_object_object_add(s, "type", str("integer"));
        break;
    case EM_COL_REAL:
        json_object_object_add(s, "type", str("number"));
        break;
    case EM_COL_BOOL:
        json_object_object_add(s, "type", str("boolean"));
        break;
    case EM_COL_DATE:
        json_object_object_add(s, "type", str("string"));
        json_object_object_add(s, "format", str("date"));
        break;
    case EM_COL_DATETIME:
        json_object_object_add(s, "type", str("string"));
        json_object_object_add(s, "description",
                               str("YYYY-MM-DDTHH:MM:SS, Shanghai local time (UTC+8)"));
        break;
    }
    if (as_property)
        json_object_object_add(s, "nullable", json_object_new_boolean(1));
    return s;
}

static json_object *filter_param(const em_column *col) {
    json_object *p = json_object_new_object();
    json_object_object_add(p, "name", str(col->name));
    json_object_object_add(p, "in", str("query"));
    json_object_object_add(p, "required", json_object_new_boolean(0));
    char text[256];
    snprintf(text, sizeof text, "only features whose %s equals this value%s", col->name,
             col->type == EM_COL_BOOL ? " (true/false, 1/0 or 是/否)" : "");
    json_object_object_add(p, "description", str(text));
    json_object_object_add(p, "schema", column_schema(col, 0));
    json_object_object_add(p, "style", str("form"));
    json_object_object_add(p, "explode", json_object_new_boolean(0));
    return p;
}

static json_object *response(const char *description, const char *media_type,
                             const char *schema_ref, int content_crs) {
    json_object *r = json_object_new_object();
    json_object_object_add(r, "description", str(description));
    if (content_crs) {
        json_object *headers = json_object_new_object();
        json_object_object_add(headers, "Content-Crs", ref("#/components/headers/Content-Crs"));
        json_object_object_add(r, "headers", headers);
    }
    json_object *content = json_object_new_object();
    json_object *mt = json_object_new_object();
    json_object_object_add(mt, "schema", ref(schema_ref));
    json_object_object_add(content, media_type, mt);
    json_object_object_add(r, "content", content);
    return r;
}

static json_object *error_responses(json_object *responses, int not_found) {
    json_object_object_add(responses, "400", ref("#/components/responses/InvalidParameter"));
    if (not_found)
        json_object_object_add(responses, "404", ref("#/components/responses/NotFound"));
    json_object_object_add(responses, "500", ref("#/components/responses/ServerError"));
    json_object_object_add(responses, "503", ref("#/components/responses/Unavailable"));
    return responses;
}

static json_object *operation(const char *tag, const char *summary, const char *operation_id,
                              json_object *parameters, json_object *responses) {
    json_object *op = json_object_new_object();
    json_object *tags = json_object_new_array();
    json_object_array_add(tags, str(tag));
    json_object_object_add(op, "tags", tags);
    json_object_object_add(op, "summary", str(summary));
    json_object_object_add(op, "operationId", str(operation_id));
    json_object_object_add(op, "parameters", parameters);
    json_object_object_add(op, "responses", responses);
    json_object *item = json_object_new_object();
    json_object_object_add(item, "get", op);
    return item;
}

/* components/schemas/<layer>Feature and <layer>FeatureCollection. */
static void add_layer_schemas(json_object *schemas, const em_layer *l) {
    json_object *props = json_object_new_object();
    for (size_t i = 0; i < l->ncolumns; i++)
        json_object_object_add(props, l->columns[i].name, column_schema(&l->columns[i], 1));
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "type", str("object"));
    json_object_object_add(extra, "nullable", json_object_new_boolean(1));
    json_object_object_add(extra, "description",
                           str("source fields that have no column of their own"));
    json_object_object_add(props, "extra", extra);
    json_object *properties = json_object_new_object();
    json_object_object_add(properties, "type", str("object"));
    json_object_object_add(properties, "properties", props);

    json_object *feature = json_object_new_object();
    json_object_object_add(feature, "type", str("object"));
    json_object *required = json_object_new_array();
    json_object_array_add(required, str("type"));
    json_object_array_add(required, str("id"));
    json_object_array_add(required, str("geometry"));
    json_object_array_add(required, str("properties"));
    json_object_object_add(feature, "required", required);
    json_object *fp = json_object_new_object();
    json_object *type = json_object_new_object();
    json_object_object_add(type, "type", str("string"));
    json_object *feature_enum = json_object_new_array();
    json_object_array_add(feature_enum, str("Feature"));
    json_object_object_add(type, "enum", feature_enum);
    json_object_object_add(fp, "type", type);
    json_object *id = json_object_new_object();
    json_object_object_add(id, "type", str("integer"));
    json_object_object_add(fp, "id", id);
    json_object_object_add(fp, "geometry", ref("#/components/schemas/geometryGeoJSON"));
    json_object_object_add(fp, "properties", properties);
    json_object *links = json_object_new_object();
    json_object_object_add(links, "type", str("array"));
    json_object_object_add(links, "items", ref("#/components/schemas/link"));
    json_object_object_add(fp, "links", links);
    json_object_object_add(feature, "properties", fp);

    char name[96], target[128];
    snprintf(name, sizeof name, "%sFeature", l->name);
    snprintf(target, sizeof target, "#/components/schemas/%s", name);
    json_object_object_add(schemas, name, feature);

    json_object *fc = json_object_new_object();
    json_object_object_add(fc, "type", str("object"));
    json_object *fc_required = json_object_new_array();
    json_object_array_add(fc_required, str("type"));
    json_object_array_add(fc_required, str("features"));
    json_object_object_add(fc, "required", fc_required);
    json_object *fcp = json_object_new_object();
    json_object *fctype = json_object_new_object();
    json_object_object_add(fctype, "type", str("string"));
    json_object *fc_enum = json_object_new_array();
    json_object_array_add(fc_enum, str("FeatureCollection"));
    json_object_object_add(fctype, "enum", fc_enum);
    json_object_object_add(fcp, "type", fctype);
    json_object *features = json_object_new_object();
    json_object_object_add(features, "type", str("array"));
    json_object_object_add(features, "items", ref(target));
    json_object_object_add(fcp, "features", features);
    const char *counts[] = {"numberMatched", "numberReturned"};
    for (int i = 0; i < 2; i++) {
        json_object *n = json_object_new_object();
        json_object_object_add(n, "type", str("integer"));
        json_object_object_add(n, "minimum", json_object_new_int(0));
        json_object_object_add(fcp, counts[i], n);
    }
    json_object *stamp = json_object_new_object();
    json_object_object_add(stamp, "type", str("string"));
    json_object_object_add(stamp, "format", str("date-time"));
    json_object_object_add(fcp, "timeStamp", stamp);
    json_object *fclinks = json_object_new_object();
    json_object_object_add(fclinks, "type", str("array"));
    json_object_object_add(fclinks, "items", ref("#/components/schemas/link"));
    json_object_object_add(fcp, "links", fclinks);
    json_object_object_add(fc, "properties", fcp);
    snprintf(name, sizeof name, "%sFeatureCollection", l->name);
    json_object_object_add(schemas, name, fc);
}

static void add_layer_paths(json_object *paths, const em_layer *l) {
    char path[128], summary[160], op_id[96], schema[128];

    snprintf(path, sizeof path, "/collections/%s", l->name);
    snprintf(summary, sizeof summary, "the %s collection (%s)", l->name, l->label_zh);
    snprintf(op_id, sizeof op_id, "describe_%s", l->name);
    json_object *params = json_object_new_array();
    json_object_array_add(params, ref("#/components/parameters/f"));
    json_object *responses = json_object_new_object();
    json_object_object_add(responses, "200",
                           response("the collection: extent, CRS list, links", "application/json",
                                    "#/components/schemas/collection", 0));
    json_object_object_add(
        paths, path,
        operation("Capabilities", summary, op_id, params, error_responses(responses, 1)));

    snprintf(path, sizeof path, "/collections/%s/items", l->name);
    snprintf(summary, sizeof summary, "the features of %s (%s), a page at a time", l->name,
             l->label_zh);
    snprintf(op_id, sizeof op_id, "get_%s_features", l->name);
    params = json_object_new_array();
    json_object_array_add(params, ref("#/components/parameters/f"));
    json_object_array_add(params, ref("#/components/parameters/bbox"));
    json_object_array_add(params, ref("#/components/parameters/bbox-crs"));
    json_object_array_add(params, ref("#/components/parameters/crs"));
    json_object_array_add(params, ref("#/components/parameters/limit"));
    json_object_array_add(params, ref("#/components/parameters/offset"));
    if (em_ogc_temporal_column(l))
        json_object_array_add(params, ref("#/components/parameters/datetime"));
    for (size_t i = 0; i < l->ncolumns; i++)
        json_object_array_add(params, filter_param(&l->columns[i]));
    snprintf(schema, sizeof schema, "#/components/schemas/%sFeatureCollection", l->name);
    responses = json_object_new_object();
    json_object_object_add(responses, "200",
                           response("a page of features, with numberMatched and next/prev links",
                                    "application/geo+json", schema, 1));
    json_object_object_add(
        paths, path, operation("Data", summary, op_id, params, error_responses(responses, 1)));

    snprintf(path, sizeof path, "/collections/%s/items/{featureId}", l->name);
    snprintf(summary, sizeof summary, "one feature of %s (%s)", l->name, l->label_zh);
    snprintf(op_id, sizeof op_id, "get_%s_feature", l->name);
    params = json_object_new_array();
    json_object_array_add(params, ref("#/components/parameters/featureId"));
    json_object_array_add(params, ref("#/components/parameters/f"));
    json_object_array_add(params, ref("#/components/parameters/crs"));
    snprintf(schema, sizeof schema, "#/components/schemas/%sFeature", l->name);
    responses = json_object_new_object();
    json_object_object_add(responses, "200",
                           response("the feature", "application/geo+json", schema, 1));
    json_object_object_add(
        paths, path, operation("Data", summary, op_id, params, error_responses(responses, 1)));
}

json_object *em_ogc_openapi(const char *base_url) {
    json_object *doc = json_tokener_parse(fixed_part);
    if (!doc) /* a broken literal is a bug: make it loud in tests */
        return json_object_new_string("internal error: OpenAPI template does not parse");
    json_object *info = json_object_object_get(doc, "info");
    json_object_object_add(info, "version", str(ESTATEMAP_VERSION));
    json_object *servers = json_object_new_array();
    json_object *server = json_object_new_object();
    char url[512];
    snprintf(url, sizeof url, "%s/ogc", base_url);
    json_object_object_add(server, "url", str(url));
    json_object_array_add(servers, server);
    json_object_object_add(doc, "servers", servers);

    json_object *components = json_object_object_get(doc, "components");
    json_object *parameters = json_object_object_get(components, "parameters");
    json_object_object_add(parameters, "bbox-crs",
                           crs_param("bbox-crs", "the CRS of bbox, by URI (default CRS84)"));
    json_object_object_add(
        parameters, "crs",
        crs_param("crs", "the CRS of the coordinates in the response, by URI (default CRS84); "
                         "EPSG:4326 and EPSG:4490 are lat/lon, EPSG:4549 northing/easting, as "
                         "their authority defines them. The response says it in Content-Crs."));
    json_object *schemas = json_object_object_get(components, "schemas");
    json_object *paths = json_object_object_get(doc, "paths");
    for (size_t i = 0; i < em_ogc_collection_count(); i++) {
        const em_layer *l = em_ogc_collection_at(i);
        add_layer_schemas(schemas, l);
        add_layer_paths(paths, l);
    }
    return doc;
}

json_object *em_ogc_feature_schema(const em_layer *l, const char *base_url) {
    json_object *doc = json_object_new_object();
    char id[512], title[128];
    snprintf(id, sizeof id, "%s/ogc/collections/%s/schema", base_url, l->name);
    snprintf(title, sizeof title, "%s %s", l->label_zh, l->name);
    json_object_object_add(doc, "$schema", str("https://json-schema.org/draft/2019-09/schema"));
    json_object_object_add(doc, "$id", str(id));
    json_object_object_add(doc, "title", str(title));
    json_object_object_add(
        doc, "description",
        str("A GeoJSON feature of this collection. Every property may be null (\"nullable\")."));
    json_object_object_add(doc, "type", str("object"));
    json_object *required = json_object_new_array();
    json_object_array_add(required, str("type"));
    json_object_array_add(required, str("geometry"));
    json_object_array_add(required, str("properties"));
    json_object_object_add(doc, "required", required);

    json_object *top = json_object_new_object();
    json_object *type = json_object_new_object();
    json_object_object_add(type, "type", str("string"));
    json_object *feature_enum = json_object_new_array();
    json_object_array_add(feature_enum, str("Feature"));
    json_object_object_add(type, "enum", feature_enum);
    json_object_object_add(top, "type", type);
    json_object *fid = json_object_new_object();
    json_object_object_add(fid, "type", str("integer"));
    json_object_object_add(top, "id", fid);
    json_object *geometry = json_object_new_object();
    json_object_object_add(geometry, "type", str("object"));
    json_object_object_add(geometry, "description",
                           str(l->geom == EM_GEOM_POINT          ? "a GeoJSON Point"
                               : l->geom == EM_GEOM_POLYGON      ? "a GeoJSON Polygon"
                               : l->geom == EM_GEOM_MULTIPOLYGON ? "a GeoJSON MultiPolygon"
                                                                 : "a GeoJSON (Multi)LineString or "
                                                                   "(Multi)Polygon"));
    json_object_object_add(top, "geometry", geometry);

    json_object *props = json_object_new_object();
    for (size_t i = 0; i < l->ncolumns; i++) {
        json_object *s = column_schema(&l->columns[i], 1);
        if (l->columns[i].type == EM_COL_DATETIME)
            json_object_object_add(s, "format", str("date-time"));
        json_object_object_add(props, l->columns[i].name, s);
    }
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "type", str("object"));
    json_object_object_add(extra, "nullable", json_object_new_boolean(1));
    json_object_object_add(extra, "description",
                           str("source fields that have no column of their own"));
    json_object_object_add(props, "extra", extra);
    json_object *properties = json_object_new_object();
    json_object_object_add(properties, "type", str("object"));
    json_object_object_add(properties, "properties", props);
    json_object_object_add(top, "properties", properties);
    json_object_object_add(doc, "properties", top);
    return doc;
}
