// Decode Mapbox Vector Tiles with @mapbox/vector-tile, as MapLibre and Leaflet
// plugins do.
//   node decode_mvt.mjs TILE.mvt...
// Prints [{"file", "layers": {name: {"version", "extent", "features": [{"id",
// "type", "properties", "geometry": [[[x, y], ...], ...]}]}}}] as JSON: geometry is
// loadGeometry()'s rings or lines (rings come back closed), and "polygons" gives
// classifyRings()'s grouping of a polygon feature's rings into outer and holes.
// Called by tests/integration/test_tiles.py; needs `npm ci` at the repository root.
import {readFileSync} from 'node:fs';
import {PbfReader} from 'pbf';
import {VectorTile, VectorTileFeature, classifyRings} from '@mapbox/vector-tile';

const result = [];
for (const file of process.argv.slice(2)) {
    const tile = new VectorTile(new PbfReader(readFileSync(file)));
    const layers = {};
    for (const [name, layer] of Object.entries(tile.layers)) {
        const features = [];
        for (let i = 0; i < layer.length; i++) {
            const f = layer.feature(i);
            const rings = f.loadGeometry();
            const feature = {
                id: f.id,
                type: f.type,
                typeName: VectorTileFeature.types[f.type],
                properties: f.properties,
                geometry: rings.map(r => r.map(p => [p.x, p.y])),
            };
            if (f.type === 3) feature.polygons = classifyRings(rings).map(p => p.length);
            features.push(feature);
        }
        layers[name] = {version: layer.version, extent: layer.extent, features};
    }
    result.push({file, layers});
}
process.stdout.write(JSON.stringify(result));
