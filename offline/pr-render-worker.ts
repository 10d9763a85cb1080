// Runs inside a commit's checkout (copied there by pr-plan.ts with engine.ts, program.ts and
// stack-files.ts), so the program, its components and @pulumi/pulumi all come from that commit:
// evaluates one stack under the mock engine and writes what it declares as JSON.
//   node -r ts-node/register/transpile-only <checkout>/.pr-plan/pr-render-worker.ts <stack> <out.json>
import * as fs from "node:fs";
import { evaluate, useMocks } from "./engine";
import { loadProgram } from "./program";
import { PROJECT_ROOT, loadStackSettings } from "./stack-files";

/** What one commit's program declares for one stack; `error` when the program refused its configuration. */
export interface WorkerResult {
    /** Fully qualified settings as the program read them; encrypted ones are stand-ins, never decrypted. */
    config: Record<string, string>;
    /** Fully qualified keys that are `secure:` in the stack file. */
    encrypted: string[];
    resources: unknown[];
    error?: string;
}

async function main(): Promise<void> {
    const [stack, out] = process.argv.slice(2);
    const { config, encrypted } = loadStackSettings(stack, {}, PROJECT_ROOT);
    await useMocks(stack);
    const program = await loadProgram(PROJECT_ROOT);
    const ev = await evaluate(program, config);
    const result: WorkerResult = { config, encrypted, resources: ev.resources, ...(ev.error ? { error: ev.error.message } : {}) };
    fs.writeFileSync(out, JSON.stringify(result));
}

main().catch((e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
});
