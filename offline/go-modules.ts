// Published source trees (Istio's CRDs and charts) come from the Go module proxy: `go mod download`
// puts a module version in the module cache, outside the repository, and prints where.
import { execFileSync } from "node:child_process";
import * as os from "node:os";

/** Raised when a module cannot be fetched; says how to provide it instead. */
export class ModuleUnavailableError extends Error {}

/** The directory of `module@version` in the Go module cache, downloading it through the proxy when missing. */
export function goModuleDir(module: string, version: string, hint: string): string {
    try {
        const out = execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
            // Outside any module, so no go.mod of a working tree is read or written.
            cwd: os.tmpdir(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GOFLAGS: "-mod=mod" },
        });
        return JSON.parse(out).Dir;
    } catch (e) {
        // The go process's own error (exit code, its JSON on stdout) stays available as the cause.
        throw new ModuleUnavailableError(`cannot fetch ${module}@${version} with "go mod download" (${(e as Error).message.split("\n")[0]}); ${hint}`, { cause: e });
    }
}
