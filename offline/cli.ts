// Shared by the offline commands: argument parsing, evaluating the real program for a stack, and
// the human summary.
import { parseArgs } from "node:util";
import { describeRouting, VirtualServiceSpec } from "../components/routing";
import { SECRET_SETTINGS } from "../components/stack-config";
import { ConfigError } from "../components/validation";
import { DeclaredResource, evaluate, useMocks } from "./engine";
import { SECRET_MASK } from "./manifests";
import { loadProgram } from "./program";
import { StackConfig, StackFileError, loadStackSettings, parseOverrides, projectName, qualify } from "./stack-files";

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
    // Pulumi's own rule for stack names; it also keeps the name from leading a path out of --out.
    if (!/^[A-Za-z0-9_.-]+$/.test(values.stack) || /^\.+$/.test(values.stack)) {
        throw new CliError(`--stack ${JSON.stringify(values.stack)}: allowed values: letters, digits, '-', '_' and '.' (not only dots)`, 2);
    }
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

/** Values never to print or write: those of settings that can hold credentials, and secrets given for encrypted keys. */
const secretValues = new Set<string>();
/** Encrypted keys whose stand-ins the program sees, for advice when it refuses one. */
const standIns = new Set<string>();

/**
 * Replaces every secret value known to this process (and its JSON-escaped form, and each long line
 * of a multi-line one) with the mask: the last line of defence for stdout, stderr and every file.
 */
export function maskSecrets(text: string, secrets: Iterable<string> = secretValues): string {
    for (const secret of secrets) {
        const forms = [secret, JSON.stringify(secret).slice(1, -1), ...secret.split("\n").map((l) => l.trim())];
        for (const form of forms.filter((f) => f.length >= 8).sort((a, b) => b.length - a.length)) text = text.split(form).join(SECRET_MASK);
    }
    return text;
}

/** Reads the stack's configuration; stack-file problems become CLI errors. Remembers what is secret. */
export function stackConfig(stack: string, overrides: Record<string, string>): StackConfig {
    try {
        const { config, encrypted } = loadStackSettings(stack, overrides);
        const project = projectName();
        const overridden = new Set(Object.keys(overrides).map((k) => qualify(k, project)));
        for (const [key, value] of Object.entries(config)) {
            if (encrypted.includes(key) && !overridden.has(key)) {
                standIns.add(key);
            } else if (encrypted.includes(key) || (key.startsWith(`${project}:`) && SECRET_SETTINGS.has(key.slice(project.length + 1)))) {
                // A value given for an encrypted key is the decrypted secret; a credential setting is secret however given.
                secretValues.add(value);
            }
        }
        return config;
    } catch (e) {
        if (e instanceof StackFileError) throw new CliError(e.message);
        throw e;
    }
}

/** The program's refusal, with working advice for settings refused because their encrypted value cannot be read offline. */
function refusal(error: ConfigError): string {
    const project = projectName();
    const encrypted = error.problems.map((p) => p.setting).filter((s) => standIns.has(qualify(s, project)));
    return encrypted.length === 0 ? error.message : `${error.message}\n` + encrypted.map((s) =>
        `${s} is encrypted in the stack file and cannot be decrypted offline; give its value with --config ${s}=<value>`).join("\n");
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
        throw ev.error instanceof ConfigError ? new CliError(refusal(ev.error)) : ev.error;
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
            process.stderr.write(maskSecrets(`error: ${e.message}\n`));
            process.exitCode = e.exitCode;
        } else {
            process.stderr.write(maskSecrets(`${(e as Error).stack ?? e}\n`));
            process.exitCode = 1;
        }
    });
}
