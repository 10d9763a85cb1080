// Upstream files the tests read, kept in the repository under third_party/<module>@<version>/ (the
// Go module cache's own layout, so origin and version are in the path): `npm test` then needs no Go
// and no network. test/third-party.test.ts checks every copy against its module when Go is there;
// `npm run third-party -- refresh` rewrites the copies from the modules after a version bump.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_ISTIO_VERSION } from "../components/istio-mesh";
import { goModuleDir } from "./go-modules";

/** The repository's directory of upstream copies. */
export const THIRD_PARTY_DIR = path.join(__dirname, "..", "third_party");

/** A Go module version of which some paths are kept in the repository. */
export interface PinnedCopy {
    /** The module path, e.g. `istio.io/api`. */
    module: string;
    /** The module version, as the Go module proxy serves it. */
    version: string;
    /** Files or directories of the module that are kept, relative to its root. */
    paths: string[];
}

/** The istio.io/istio version whose Helm charts the chart test reads (≈1.31; the proxy serves only pseudo-versions). */
export const ISTIO_CHARTS_MODULE_VERSION = "v0.0.0-20260827124520-eed52ebb66ad";

/** Istio's CRDs of the pinned Istio, and the four Helm charts this package installs. */
export const PINNED_COPIES: PinnedCopy[] = [
    { module: "istio.io/api", version: `v${DEFAULT_ISTIO_VERSION}`, paths: ["LICENSE", "kubernetes/customresourcedefinitions.gen.yaml"] },
    {
        module: "istio.io/istio",
        version: ISTIO_CHARTS_MODULE_VERSION,
        paths: ["LICENSE", ...["base", "istio-cni", "istio-control/istio-discovery", "gateway"].map((chart) => `manifests/charts/${chart}`)],
    },
];

/**
 * Files kept from a tagged release of a Git repository that the Go module proxy does not serve
 * (it refuses GoogleCloudPlatform/prometheus-engine), pinned by tag, commit and each file's Git blob
 * id: `git ls-tree <tag> <path>` in the upstream repository prints the same ids.
 */
export interface GitPinnedCopy {
    /** The repository's Go-style path, e.g. `github.com/GoogleCloudPlatform/prometheus-engine` (the copy's directory). */
    module: string;
    /** The release tag the files come from. */
    version: string;
    /** The commit the tag points at. */
    commit: string;
    /** Each kept file, relative to the repository root, and its Git blob id at that tag. */
    blobs: Record<string, string>;
}

/** The directory of Managed Service for Prometheus's CRDs inside prometheus-engine. */
export const MANAGED_PROMETHEUS_CRD_DIR = "charts/operator/crds";

/**
 * Managed Service for Prometheus's scrape CRD (PodMonitoring) of its latest
 * release, for the schema tests and for the e2e cluster, which has no GKE to install them.
 */
export const PROMETHEUS_ENGINE_COPY: GitPinnedCopy = {
    module: "github.com/GoogleCloudPlatform/prometheus-engine",
    version: "v0.17.2",
    commit: "7920a2a222af1c09535d8141684e2944670c5041",
    blobs: {
        "LICENSE": "7a4a3ea2424c09fbe48d455aed1eaa94d9124835",
        [`${MANAGED_PROMETHEUS_CRD_DIR}/monitoring.googleapis.com_podmonitorings.yaml`]: "647441e075f62d8c46beb60ed6a9cfb22de72adb",
    },
};

/** The Git blob id of a file's contents (what `git hash-object` prints). */
export function gitBlobId(contents: Buffer): string {
    return createHash("sha1").update(`blob ${contents.length}\0`).update(contents).digest("hex");
}

/** How the repository's copy differs from the pinned blobs: one line per file; empty when equal. */
export function differencesFromBlobs(copy: GitPinnedCopy, dir = pinnedCopyDir(copy)): string[] {
    const kept = fs.existsSync(dir) ? filesUnder(dir) : [];
    return [
        ...Object.keys(copy.blobs).filter((f) => !kept.includes(f)).map((f) => `${f}: missing from the copy`),
        ...kept.filter((f) => !(f in copy.blobs)).map((f) => `${f}: not pinned from ${copy.module}@${copy.version}`),
        ...kept.filter((f) => f in copy.blobs && gitBlobId(fs.readFileSync(path.join(dir, f))) !== copy.blobs[f])
            .map((f) => `${f}: differs from ${copy.module}@${copy.version} (blob ${copy.blobs[f]})`),
    ];
}

/** Where the copy of `module@version` lives (whether or not it exists). */
export function pinnedCopyDir(copy: Pick<PinnedCopy, "module" | "version">): string {
    return path.join(THIRD_PARTY_DIR, `${copy.module}@${copy.version}`);
}

/**
 * The directory holding `subpath` of `module@version`: the repository's copy when it keeps that
 * path, else the Go module cache (downloading through the proxy; needs Go).
 */
export function moduleSourceDir(module: string, version: string, subpath: string, hint: string): string {
    const copy = PINNED_COPIES.find((c) => c.module === module && c.version === version);
    if (copy && copy.paths.some((p) => subpath === p || subpath.startsWith(`${p}/`)) && fs.existsSync(path.join(pinnedCopyDir(copy), subpath))) {
        return pinnedCopyDir(copy);
    }
    return goModuleDir(module, version, hint);
}

/** Every file under `dir`, relative to it, sorted. */
function filesUnder(dir: string, prefix = ""): string[] {
    if (!fs.statSync(dir).isDirectory()) return [prefix];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        filesUnder(path.join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name)).sort();
}

/** The kept files of `copy`, relative to the module root, from `root` (the copy or the module). */
function keptFiles(copy: PinnedCopy, root: string): string[] {
    return copy.paths.flatMap((p) => fs.existsSync(path.join(root, p)) ? filesUnder(path.join(root, p), p) : []).sort();
}

/** How the repository's copy differs from the module (fetched with Go): one line per file; empty when equal. */
export function differencesFromModule(copy: PinnedCopy, moduleDir = goModuleDir(copy.module, copy.version, "install Go")): string[] {
    const local = pinnedCopyDir(copy);
    const upstream = keptFiles(copy, moduleDir);
    const kept = fs.existsSync(local) ? keptFiles(copy, local) : [];
    return [
        ...upstream.filter((f) => !kept.includes(f)).map((f) => `${f}: missing from the copy`),
        ...kept.filter((f) => !upstream.includes(f)).map((f) => `${f}: not in ${copy.module}@${copy.version}`),
        ...kept.filter((f) => upstream.includes(f) && !fs.readFileSync(path.join(local, f)).equals(fs.readFileSync(path.join(moduleDir, f))))
            .map((f) => `${f}: differs from ${copy.module}@${copy.version}`),
    ];
}

/** Rewrites the repository's copy of `copy` from its module (writable files, unlike the read-only module cache). */
export function refreshCopy(copy: PinnedCopy): void {
    const moduleDir = goModuleDir(copy.module, copy.version, "install Go");
    const local = pinnedCopyDir(copy);
    fs.rmSync(local, { recursive: true, force: true });
    for (const file of keptFiles(copy, moduleDir)) {
        fs.mkdirSync(path.dirname(path.join(local, file)), { recursive: true });
        fs.writeFileSync(path.join(local, file), fs.readFileSync(path.join(moduleDir, file)));
    }
}

if (require.main === module) {
    const command = process.argv[2];
    if (command === "refresh") {
        const kept = new Set([...PINNED_COPIES, PROMETHEUS_ENGINE_COPY].map((c) => path.basename(pinnedCopyDir(c))));
        for (const copy of PINNED_COPIES) refreshCopy(copy);
        // Copies of versions no longer pinned go: one version of each module in the repository.
        for (const owner of fs.readdirSync(THIRD_PARTY_DIR, { withFileTypes: true }).filter((e) => e.isDirectory())) {
            for (const entry of fs.readdirSync(path.join(THIRD_PARTY_DIR, owner.name))) {
                if (entry.includes("@") && !kept.has(entry)) fs.rmSync(path.join(THIRD_PARTY_DIR, owner.name, entry), { recursive: true });
            }
        }
    } else if (command === "check") {
        const problems = [
            ...PINNED_COPIES.flatMap((c) => differencesFromModule(c).map((d) => `${c.module}@${c.version}/${d}`)),
            ...differencesFromBlobs(PROMETHEUS_ENGINE_COPY).map((d) => `${PROMETHEUS_ENGINE_COPY.module}@${PROMETHEUS_ENGINE_COPY.version}/${d}`),
        ];
        for (const p of problems) console.error(p);
        process.exitCode = problems.length > 0 ? 1 : 0;
    } else {
        console.error("usage: npm run third-party -- refresh | check");
        process.exitCode = 2;
    }
}
