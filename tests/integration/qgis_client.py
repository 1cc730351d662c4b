"""QGIS, headless, as a client of `estatemap serve`'s OGC API - Features (run by
test_qgis.py in a process of its own: one QgsApplication per process, and a crash in
QGIS fails that test instead of the whole run).

    /usr/bin/python3 qgis_client.py BASE_URL [LAYER | --count-only LAYER]...
                                    [--bbox LAYER W,S,E,N]...

Loads each layer with QGIS's `oapif` provider (the one QGIS's "WFS / OGC API -
Features" connection uses) and reads every feature (--count-only: only QGIS's
feature count; QGIS takes about 1.5 s per page of 1000 features, on its side), and
asks for the features of a layer in a lon/lat box. Prints one JSON document:
{"qgis": version, "providers": [...], "layers": {name: {...}}, "bbox": {name: {...}}}.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (Qgis, QgsApplication, QgsFeatureRequest,  # noqa: E402
                       QgsProviderRegistry, QgsRectangle, QgsVectorLayer, QgsWkbTypes)


def value(v):
    """An attribute as JSON: QGIS's NULL and Qt's dates become None and text."""
    if v is None or (hasattr(v, "isNull") and v.isNull()):
        return None
    if hasattr(v, "toString") and not isinstance(v, str):
        return v.toString("yyyy-MM-ddTHH:mm:ss") if hasattr(v, "time") else v.toString(
            "yyyy-MM-dd")
    return v


KEEP = []  # every layer lives to the end: PyQGIS crashes when one is freed mid-run


def layer(base, name, extra=""):
    lyr = QgsVectorLayer(f"url='{base}' typename='{name}'{extra}", name, "oapif")
    KEEP.append(lyr)
    return lyr


def describe(base, name, read_all):
    lyr = layer(base, name)
    provider = lyr.dataProvider()
    error = provider.error() if provider else None  # kept: summary() of a temporary crashes
    out = {"valid": lyr.isValid(),
           "error": "no provider" if not provider else None if error.isEmpty() else
           error.summary()}
    if not lyr.isValid():
        return out
    fields = lyr.fields().names()
    features, types = [], {}
    for f in lyr.getFeatures() if read_all else []:
        features.append(dict(zip(fields, (value(v) for v in f.attributes()))))
        kind = QgsWkbTypes.displayString(f.geometry().wkbType())
        types[kind] = types.get(kind, 0) + 1
    extent = lyr.extent()
    out.update({
        "feature_count": lyr.featureCount(),
        "fields": fields,
        "crs": lyr.crs().authid(),
        "geometry_type": QgsWkbTypes.geometryDisplayString(lyr.geometryType()),
        "extent": [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
        "read_all": read_all,
        "features": features,
        "geometry_types": types,
    })
    return out


def in_bbox(base, name, box):
    # QGIS's "Only request features overlapping the view extent": bbox goes to the server
    lyr = layer(base, name, " restrictToRequestBBOX='1'")
    req = QgsFeatureRequest().setFilterRect(QgsRectangle(*box))
    req.setFlags(QgsFeatureRequest.ExactIntersect)
    codes = [f["code"] for f in lyr.getFeatures(req)]
    return {"valid": lyr.isValid(), "codes": codes,
            "names": [f["name"] for f in lyr.getFeatures(req)] if "name" in lyr.fields().names()
            else None}


def main(argv):
    base, rest = argv[1], argv[2:]
    names, boxes, count_only = [], [], set()
    while rest:
        if rest[0] == "--bbox":
            boxes.append((rest[1], [float(x) for x in rest[2].split(",")]))
            rest = rest[3:]
        elif rest[0] == "--count-only":
            count_only.add(rest[1])
            names.append(rest[1])
            rest = rest[2:]
        else:
            names.append(rest.pop(0))
    app = QgsApplication([], False)
    app.initQgis()
    doc = {"qgis": Qgis.QGIS_VERSION,
           "providers": [p.lower() for p in QgsProviderRegistry.instance().providerList()],
           "layers": {n: describe(base, n, n not in count_only) for n in names},
           "bbox": {n: in_bbox(base, n, box) for n, box in boxes}}
    json.dump(doc, sys.stdout, ensure_ascii=False, default=str)
    sys.stdout.flush()
    # PyQGIS 3.22 may crash tearing down live layers and the application at exit; the
    # answer is out, so leave at once
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
