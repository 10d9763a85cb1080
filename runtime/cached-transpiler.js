// @ts-check
// The transpiler ts-node uses when `pulumi up` / `pulumi preview` run the program (named in
// tsconfig.pulumi.json). Every command starts a fresh Node.js process, and transpiling the
// program's TypeScript cost about a second of each one; the output only changes when a source
// file, the compiler options or TypeScript change, so it is kept on disk and reused.
// Cache: node_modules/.cache/gke-istio-bluegreen/ts (BLUEGREEN_TS_CACHE_DIR overrides it), one
// entry per source file and settings; unreadable or stale entries are simply transpiled again.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const sha256 = (/** @type {string} */ text) => crypto.createHash("sha256").update(text).digest("hex");
/** Changes whenever this file does, so a change in how output is produced invalidates the cache. */
const SELF = sha256(fs.readFileSync(__filename, "utf8"));

/** @returns {string} */
function defaultCacheDirectory() {
    return process.env.BLUEGREEN_TS_CACHE_DIR || path.join(__dirname, "..", "node_modules", ".cache", "gke-istio-bluegreen", "ts");
}

/**
 * ts-node's transpiler factory (see ts-node's TranspilerModule).
 * @param {{ service: { config: { options: import("typescript").CompilerOptions } }, cacheDirectory?: string }} options
 */
exports.create = function create({ service, cacheDirectory = defaultCacheDirectory() }) {
    /** @type {typeof import("typescript")} */
    const ts = require("typescript");
    const compilerOptions = service.config.options;
    const settings = sha256(JSON.stringify([SELF, ts.version, compilerOptions]));
    return {
        /**
         * @param {string} input
         * @param {{ fileName: string }} options
         */
        transpile(input, { fileName }) {
            const entry = path.join(cacheDirectory, `${sha256(settings + fileName)}.json`);
            const source = sha256(input);
            try {
                const cached = JSON.parse(fs.readFileSync(entry, "utf8"));
                if (cached.source === source) return { outputText: cached.outputText, sourceMapText: cached.sourceMapText };
            } catch {
                // Not cached yet, or unreadable: transpile.
            }
            const { outputText, sourceMapText } = ts.transpileModule(input, { fileName, compilerOptions, reportDiagnostics: false });
            try {
                fs.mkdirSync(cacheDirectory, { recursive: true });
                // Written aside and renamed, so a concurrent run never reads half an entry.
                const temporary = `${entry}.${process.pid}.tmp`;
                fs.writeFileSync(temporary, JSON.stringify({ source, outputText, sourceMapText }));
                fs.renameSync(temporary, entry);
            } catch {
                // A read-only checkout still runs, only without the cache.
            }
            return { outputText, sourceMapText };
        },
    };
};
