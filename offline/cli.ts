// Shared by the offline commands: argument parsing, evaluating the real program for a stack, and
// the human summary.
import { parseArgs } from "node:util";
import { describeRouting, VirtualServiceSpec } from "../components/routing";
import { ConfigError } from "../components/validation";
import { DeclaredResource, evaluate, useMocks } from "./engine";
import { loadProgram } from "./program";
import { StackConfig, StackFileError, loadStackConfig, parseOverrides, projectName } from "./stack-files";

/** A usage or input error: printed without a stack trace, exit code `exitCode`. */
export class CliError extends Error {
    constructor(message: string, public readonly exitCode = 1) {
        super(message);
    }
}

/** Options every offline command takes. */
export interface CommonOptions {
    stack: string;
    overrides: Record<string, string>;
    help: boolean;
}

/** Parses the common options plus `extra` string options. */
export function parseCommandLine<E extends string>(argv: string[], extra: readonly E[] = []): CommonOptions & Record<E, string | undefined> {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            allowPositionals: false,
            options: {
                stack: { type: "string", default: "dev" },
                config: { type: "string", multiple: true, default: [] },
                help: { type: "boolean", short: "h", default: false },
                ...Object.fromEntries(extra.map((e) => [e, { type: "string" as const }])),
            },
        });
    } catch (e) {
        throw new CliError(`${(e as Error).message} (see --help)`, 2);
    }
    const values = parsed.values as Record<string, any>;
    let overrides: Record<string, string>;
    try {
        overrides = parseOverrides(values.config);
    } catch (e) {
        throw new CliError((e as Error).message, 2);
    }
    return { ...values, overrides } as CommonOptions & Record<E, string | undefined>;
}

/** A stack evaluated offline. */
export interface StackEvaluation {
    stack: string;
    config: StackConfig;
    resources: DeclaredResource[];
    outputs: Record<string, any>;
}

/** Reads the stack's configuration; stack-file problems become CLI errors. */
export function stackConfig(stack: string, overrides: Record<string, string>): StackConfig {
    try {
        return loadStackConfig(stack, overrides);
    } catch (e) {
        if (e instanceof StackFileError) throw new CliError(e.message);
        throw e;
    }
}

/**
 * Evaluates the real program (index.ts) for a stack under the mock engine. Bad configuration
 * fails with the program's own message.
 */
export async function evaluateStack(stack: string, config: StackConfig): Promise<StackEvaluation> {
    await useMocks(stack);
    // Imported only after the mocks are installed.
    const program = await loadProgram();
    const ev = await evaluate(program, config);
    if (ev.error) {
        throw ev.error instanceof ConfigError ? new CliError(ev.error.message) : ev.error;
    }
    return { stack, config, resources: ev.resources, outputs: ev.outputs ?? {} };
}

/** Resource counts by type, most numerous first. */
export function countByType(resources: DeclaredResource[]): [string, number][] {
    const counts = new Map<string, number>();
    for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** The routing table lines of every VirtualService. */
export function routingLines(resources: DeclaredResource[]): string[] {
    const lines: string[] = [];
    for (const vs of resources.filter((r) => r.custom && r.inputs.kind === "VirtualService")) {
        const spec = vs.inputs.spec as VirtualServiceSpec;
        lines.push(`VirtualService ${vs.inputs.metadata.namespace}/${vs.inputs.metadata.name} (hosts ${spec.hosts.join(", ")}), first match wins:`);
        const rows = describeRouting(spec);
        const width = Math.max(...rows.map((r) => r.when.length));
        for (const row of rows) lines.push(`  ${row.when.padEnd(width)}  ->  ${row.to}`);
    }
    return lines;
}

/** The human summary of an evaluation. */
export function summary(ev: StackEvaluation): string {
    const counts = countByType(ev.resources);
    return [
        `Stack ${ev.stack} of project ${projectName()}: ${ev.resources.length} resources`,
        ...counts.map(([type, n]) => `  ${String(n).padStart(3)}  ${type}`),
        "",
        `Active color: ${ev.outputs.activeColor}    Idle color: ${ev.outputs.idleColor}`,
        ...routingLines(ev.resources),
    ].join("\n");
}

/** Runs a command's main function: CLI errors print their message and set the exit code. */
export function runCommand(main: () => Promise<number>): void {
    main().then((code) => { process.exitCode = code; }, (e) => {
        if (e instanceof CliError) {
            process.stderr.write(`error: ${e.message}\n`);
            process.exitCode = e.exitCode;
        } else {
            process.stderr.write(`${(e as Error).stack ?? e}\n`);
            process.exitCode = 1;
        }
    });
}
