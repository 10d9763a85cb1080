// Which file Pulumi runs as the program, resolved the way the Node.js language runtime does
// (@pulumi/pulumi cmd/run/run.js), so the tests and the offline tools evaluate exactly the
// program a real `pulumi up` would run, whatever has been built into bin/.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT } from "./stack-files";

/** Where the program came from: Pulumi.yaml `main`, package.json `exports`/`main`, or the folder. */
export type ProgramSource = "Pulumi.yaml main" | "package.json exports" | "package.json main" | "project folder";

/** The program Pulumi would run for a project. */
export interface ProgramEntry {
    /** Absolute path of the file (or folder) Pulumi would load. */
    path: string;
    source: ProgramSource;
}

/** `main` of Pulumi.yaml, if set: it always wins, built files or not. */
function pulumiYamlMain(root: string): string | undefined {
    const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) ?? {};
    return typeof project.main === "string" && project.main !== "" ? project.main : undefined;
}

/** The entry package.json names, when the file it names exists (otherwise the runtime falls back). */
function packageJsonEntry(root: string): ProgramEntry | undefined {
    const manifest = path.join(root, "package.json");
    if (!fs.existsSync(manifest)) return undefined;
    const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
    const existing = (entry: unknown) => (typeof entry === "string" && fs.existsSync(path.join(root, entry)) ? path.join(root, entry) : undefined);
    if (typeof pkg.exports === "string") {
        const found = existing(pkg.exports);
        return found ? { path: found, source: "package.json exports" } : undefined;
    }
    if (pkg.exports && typeof pkg.exports === "object") {
        const dot = pkg.exports["."];
        const entry = typeof dot === "string" ? dot : dot && typeof dot === "object" ? dot.default ?? dot.require ?? dot.import : undefined;
        const found = existing(entry);
        return found ? { path: found, source: "package.json exports" } : undefined;
    }
    const found = existing(pkg.main);
    return found ? { path: found, source: "package.json main" } : undefined;
}

/**
 * The program Pulumi runs for the project at `root`: `main` in Pulumi.yaml; else, when the file
 * it names exists, package.json's `exports` or `main`; else the project folder.
 */
export function resolveProgramEntry(root = PROJECT_ROOT): ProgramEntry {
    const main = pulumiYamlMain(root);
    if (main !== undefined) return { path: path.resolve(root, main), source: "Pulumi.yaml main" };
    return packageJsonEntry(root) ?? { path: root, source: "project folder" };
}

/** The program's exported function, loaded from where Pulumi would load it. Call after installing the mocks. */
export async function loadProgram(root = PROJECT_ROOT): Promise<() => unknown> {
    const entry = resolveProgramEntry(root);
    const loaded = await import(entry.path);
    const program = loaded.default ?? loaded;
    if (typeof program !== "function") {
        // A module of plain exports would declare nothing: a stack with every resource deleted.
        throw new Error(`${entry.path} (from ${entry.source}) does not export a Pulumi program function`);
    }
    return program;
}
