// Cut tiles with geojson-vt, the reference for estatemap's GeoJSON tiles.
//   node geojsonvt_tiles.mjs INPUT.json
// INPUT: {"options": {geojson-vt options}, "layers": {name: FeatureCollection},
//         "tiles": [[z, x, y], ...]}
// Prints {name: {"z/x/y": [features of getTile(z, x, y)] or null}} as JSON.
// Called by tests/integration/test_tiles.py; needs `npm ci` at the repository root.
import {readFileSync} from 'node:fs';
import GeoJSONVT from 'geojson-vt';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = {};
for (const [name, collection] of Object.entries(input.layers)) {
    const index = new GeoJSONVT(collection, input.options);
    out[name] = {};
    for (const [z, x, y] of input.tiles) {
        const tile = index.getTile(z, x, y);
        out[name][`${z}/${x}/${y}`] = tile ? tile.features : null;
    }
}
process.stdout.write(JSON.stringify(out));
