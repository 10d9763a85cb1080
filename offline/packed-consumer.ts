// The package as a consumer gets it: the published tarball of the working tree (offline/pack.ts,
// built from a scratch copy so nothing is written into the repository), unpacked into a scratch
// project's node_modules next to what npm would install with it. Shared by the package and
// examples tests and the e2e.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PackedTarball, packPackage } from "./pack";
import { copyWorkingTree } from "./working-copy";

/** A scratch consumer project with the packed package installed. The caller removes `dir`. */
export interface PackedConsumer {
    /** The consumer project's directory. */
    dir: string;
    /** The paths the tarball holds, sorted. */
    files: string[];
    /** The installed package's directory (`<dir>/node_modules/<name>`). */
    installed: string;
}

/**
 * What npm installs next to a package with this manifest: its dependencies and its peers, except
 * the optional peers (npm installs those only when the consumer asks for them).
 */
export function installedWith(manifest: { dependencies?: Record<string, string>; peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }> }): string[] {
    const peers = Object.keys(manifest.peerDependencies ?? {}).filter((p) => !manifest.peerDependenciesMeta?.[p]?.optional);
    return [...Object.keys(manifest.dependencies ?? {}), ...peers];
}

/** Packs the working tree under `root` (built in a scratch copy) into `destination`. */
export function packWorkingTree(root: string, destination: string): PackedTarball {
    const work = copyWorkingTree(root, "bluegreen-pack-");
    try {
        return packPackage(work, destination);
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

/**
 * Installs a packed tarball into a new scratch project. What npm would install with it
 * ({@link installedWith}), and `extra` packages the consumer itself depends on (type definitions,
 * a compiler, an optional peer), are linked from the repository's node_modules.
 */
export function installPacked(packed: PackedTarball, root: string, extra: string[] = []): PackedConsumer {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-consumer-"));
    const installed = path.join(dir, "node_modules", packed.name);
    fs.mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["-xzf", packed.tarball, "-C", installed, "--strip-components=1"]);
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"));
    for (const dep of new Set([...installedWith(manifest), ...extra])) linkDependency(root, dir, dep);
    return { dir, files: packed.files, installed };
}

/** Links the repository's copy of `dep` into the consumer project `dir`, as if npm had installed it there. */
export function linkDependency(root: string, dir: string, dep: string): void {
    fs.mkdirSync(path.dirname(path.join(dir, "node_modules", dep)), { recursive: true });
    fs.symlinkSync(path.join(root, "node_modules", dep), path.join(dir, "node_modules", dep));
}

/** Packs the working tree under `root` and installs the tarball into a new scratch project (see {@link installPacked}). */
export function packIntoConsumer(root: string, extra: string[] = []): PackedConsumer {
    const packDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-tarball-"));
    try {
        return installPacked(packWorkingTree(root, packDir), root, extra);
    } finally {
        fs.rmSync(packDir, { recursive: true, force: true });
    }
}
