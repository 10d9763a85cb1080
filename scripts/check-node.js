// Refuses a Node.js outside package.json `engines` with a message saying what to do, before the
// tests start: an old Node otherwise dies deep in a dependency (ERR_REQUIRE_ESM on Node 18).
// Written for any Node that can start npm: no syntax newer than ES2015.
"use strict";
var path = require("path");

/** The version triple of "v22.12.0" or "22.12.0". */
function parseVersion(text) {
    var m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text);
    if (!m) throw new Error("not a version: " + text);
    return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Why `version` falls outside `range` (only ">=X.Y.Z", the form package.json uses), or null when it is inside. */
function nodeVersionProblem(version, range) {
    var m = /^>=\s*(\d+\.\d+\.\d+)$/.exec(range.trim());
    if (!m) throw new Error("engines.node must read \">=X.Y.Z\", not " + JSON.stringify(range));
    var have = parseVersion(version);
    var need = parseVersion(m[1]);
    for (var i = 0; i < 3; i++) {
        if (have[i] > need[i]) return null;
        if (have[i] < need[i]) {
            return "gke-istio-bluegreen needs Node.js " + range + " (package.json engines); this is Node.js " + version + ".\n" +
                "Install a supported Node.js (the oldest supported release is in .node-version), or run the tests with a pinned build:\n" +
                "  scripts/node.sh low npm ci\n  scripts/node.sh low npm test";
        }
    }
    return null;
}

module.exports = { nodeVersionProblem: nodeVersionProblem };

if (require.main === module) {
    var range = require(path.join(__dirname, "..", "package.json")).engines.node;
    var problem = nodeVersionProblem(process.version, range);
    if (problem) {
        console.error(problem);
        process.exit(1);
    }
}
