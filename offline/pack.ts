// The package as it is published: the compiled library under a manifest that keeps only what a
// consumer's npm reads. The repository's own package.json carries the development scripts, the
// `prepare` build (which git installs and the Pulumi plugin host rely on) and the policy workspace;
// none of that belongs in a consumer's node_modules, where npm 11 reports scripts it skips.
//
//   npm run tarball [-- <directory>]   writes gke-istio-bluegreen-<version>.tgz there (default: .)
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Manifest fields a consumer's npm (and TypeScript, and Pulumi's analyzer) reads; everything else stays home. */
export const PUBLISHED_FIELDS = [
    "name", "version", "description", "license", "author", "repository", "homepage", "bugs", "keywords",
    "main", "types", "exports", "files", "engines", "dependencies", "peerDependencies", "peerDependenciesMeta",
] as const;

/** The published manifest: the repository's, reduced to {@link PUBLISHED_FIELDS}, in their order. */
export function publishedManifest(manifest: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(PUBLISHED_FIELDS.filter((field) => manifest[field] !== undefined).map((field) => [field, manifest[field]]));
}

/** What `npm pack` reports about a tarball. */
export interface PackedTarball {
    /** The package name. */
    name: string;
    /** The tarball's path. */
    tarball: string;
    /** The paths the tarball holds, sorted. */
    files: string[];
}

/** Files of `dir` (relative, `/`-separated) whose path matches `pattern`. */
function filesMatching(dir: string, pattern: RegExp, prefix = ""): string[] {
    return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
        const relative = prefix ? `${prefix}/${e.name}` : e.name;
        if (e.isDirectory()) return filesMatching(dir, pattern, relative);
        return pattern.test(relative) ? [relative] : [];
    });
}

/**
 * Builds the library under `root` (into `root/bin`, as the `prepare` script does), stages it with
 * the published manifest, README and LICENSE in a scratch directory, and packs that into `destination`.
 */
export function packPackage(root: string, destination: string): PackedTarball {
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-stage-"));
    try {
        const manifest = publishedManifest(JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")));
        fs.writeFileSync(path.join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
        for (const file of ["README.md", "LICENSE", ...filesMatching(root, /^bin\/.+\.(js|d\.ts)$/)]) {
            fs.mkdirSync(path.dirname(path.join(stage, file)), { recursive: true });
            fs.copyFileSync(path.join(root, file), path.join(stage, file));
        }
        const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", path.resolve(destination)],
            { cwd: stage, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
        return {
            name: packed.name,
            tarball: path.join(path.resolve(destination), packed.filename),
            files: packed.files.map((f: { path: string }) => f.path).sort(),
        };
    } finally {
        fs.rmSync(stage, { recursive: true, force: true });
    }
}

if (require.main === module) {
    const { tarball, files } = packPackage(path.join(__dirname, ".."), process.argv[2] ?? ".");
    console.log(`${tarball} (${files.length} files)`);
}
