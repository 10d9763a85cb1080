// Throwaway project directories for the real-engine runs (e2e/scenario.ts, e2e/bench.ts).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A copy of the repository at `root` as a user has it (everything but dependencies, build output
 * and VCS data) in a new temporary directory, with the repository's node_modules linked in and an
 * empty `.state` directory for a file:// backend. Copying the whole tree, not a hand-picked list,
 * means the real engine runs what a user's `pulumi up` runs.
 */
export function copyProject(root: string, prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const skip = new Set(["node_modules", ".git", "bin", "out"]);
    fs.cpSync(root, dir, { recursive: true, filter: (src) => !skip.has(path.relative(root, src).split(path.sep)[0]) });
    fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, ".state"));
    return dir;
}
