// A scratch copy of the repository's working tree, for tests and the e2e scenario that must run
// what a user has (uncommitted changes included) without writing into the repository itself.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Top-level entries never copied: dependencies, build and render output, VCS data. */
const NOT_COPIED = new Set(["node_modules", ".git", "bin", "out", ".bench"]);

/**
 * Copies the working tree under `root` into a new temporary directory named `<prefix>…` and links
 * the repository's node_modules into it. The caller removes the directory.
 */
export function copyWorkingTree(root: string, prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.cpSync(root, dir, { recursive: true, filter: (src) => !NOT_COPIED.has(path.relative(root, src).split(path.sep)[0]) });
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}
