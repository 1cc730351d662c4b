// Time geojson-vt's slicing, the peer of estatemap-slice-bench (scripts/bench, "slice" rows).
//   node geojsonvt_slice.mjs LAYER.geojson TILES.txt OPTIONS_JSON [REPEAT]
// TILES.txt has one tile a line, "z x y". Parsing the file is not timed. The list is
// first cut REPEAT times (at least 3) on throw-away indexes, untimed, so that V8 has
// optimised geojson-vt's code; then a new index is built (timed: build_s) and getTile is asked for every tile
// of the list in order on that cold index (timed: slice_s); JSON.stringify of each
// tile's features is timed apart (stringify_s). With REPEAT (default 1) the timed
// part is done that many times, each on a new index, and the counts and times summed.
// Prints one JSON object.
import {readFileSync} from 'node:fs';
import GeoJSONVT from 'geojson-vt';

const [layerPath, tilesPath, optionsText, repeatText] = process.argv.slice(2);
const repeat = Number(repeatText || 1);
const data = JSON.parse(readFileSync(layerPath, 'utf8'));
const options = JSON.parse(optionsText);
const tiles = readFileSync(tilesPath, 'utf8').trim().split('\n')
    .map((line) => line.split(' ').map(Number));
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

function cut(index) {
    let slice = 0n, stringify = 0n;
    for (const [z, x, y] of tiles) {
        const a = process.hrtime.bigint();
        const tile = index.getTile(z, x, y);
        const b = process.hrtime.bigint();
        if (tile && tile.features.length) {
            total.bytes += Buffer.byteLength(JSON.stringify(tile.features));
            total.nonempty++;
            total.features += tile.features.length;
        }
        slice += b - a;
        stringify += process.hrtime.bigint() - b;
    }
    total.slice_s += Number(slice) / 1e9;
    total.stringify_s += Number(stringify) / 1e9;
}

const zero = () => ({tiles: 0, build_s: 0, slice_s: 0, stringify_s: 0, nonempty: 0, features: 0,
                     bytes: 0});
let total = zero();
// warm-up, as many passes as will be timed and at least 3, each on a throw-away index:
// V8 has optimised geojson-vt's code, and nothing is cached for the timed passes
for (let k = 0; k < Math.max(repeat, 3); k++) cut(new GeoJSONVT(data, options));
total = zero();
for (let k = 0; k < repeat; k++) {
    const t0 = process.hrtime.bigint();
    const index = new GeoJSONVT(data, options);
    total.build_s += seconds(t0);
    total.tiles += tiles.length;
    cut(index);
}
process.stdout.write(JSON.stringify(total) + '\n');
