// The package as a consumer gets it: `npm pack` of the working tree (which builds the library
// through the prepare script, as `npm publish` would), unpacked into a scratch project's
// node_modules next to its dependencies and peers. Shared by the package test and the e2e.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
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
 * Packs the working tree under `root` and installs the tarball into a new scratch project. The
 * package's dependencies and peers, and `extra` packages the consumer needs (type definitions, a
 * TypeScript compiler), are linked from the repository's node_modules, as npm would install them.
 */
export function packIntoConsumer(root: string, extra: string[] = []): PackedConsumer {
    const work = copyWorkingTree(root, "bluegreen-pack-");
    const packDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-tarball-"));
    try {
        const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", packDir],
            { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-consumer-"));
        const installed = path.join(dir, "node_modules", packed.name);
        fs.mkdirSync(installed, { recursive: true });
        execFileSync("tar", ["-xzf", path.join(packDir, packed.filename), "-C", installed, "--strip-components=1"]);
        const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"));
        for (const dep of [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {}), ...extra]) {
            fs.mkdirSync(path.dirname(path.join(dir, "node_modules", dep)), { recursive: true });
            fs.symlinkSync(path.join(root, "node_modules", dep), path.join(dir, "node_modules", dep));
        }
        return { dir, files: packed.files.map((f: { path: string }) => f.path).sort(), installed };
    } finally {
        fs.rmSync(packDir, { recursive: true, force: true });
        fs.rmSync(work, { recursive: true, force: true });
    }
}
