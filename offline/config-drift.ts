// npm run config-drift: compares the committed stack file with the configuration of the stack's
// last deployment (what `pulumi config refresh` writes) and warns, as GitHub annotations, about
// every setting changed outside git: the deploy is about to undo it.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { CliError, runCommand } from "./cli";

/** A setting whose deployed value differs from the committed one. */
export interface Drift {
    key: string;
    committed?: string;
    live?: string;
    /** Encrypted on either side: compared by ciphertext, values never shown. */
    secret: boolean;
}

function settingsOf(file: string): Record<string, unknown> {
    try {
        return parse(fs.readFileSync(file, "utf8"))?.config ?? {};
    } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
    }
}

const isSecure = (v: unknown) => v !== null && typeof v === "object" && "secure" in (v as object);
const shown = (v: unknown) => (v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v));
const fingerprint = (v: unknown) => crypto.createHash("sha256").update(JSON.stringify(v ?? null)).digest("hex");

/** Every setting of the two stack files whose values differ (parsed YAML, so quoting and comments never count). */
export function configDrift(committedFile: string, liveFile: string): Drift[] {
    const committed = settingsOf(committedFile);
    const live = settingsOf(liveFile);
    const drifts: Drift[] = [];
    for (const key of [...new Set([...Object.keys(committed), ...Object.keys(live)])].sort()) {
        if (fingerprint(committed[key]) === fingerprint(live[key])) continue;
        const secret = isSecure(committed[key]) || isSecure(live[key]);
        drifts.push(secret ? { key, secret } : { key, committed: shown(committed[key]), live: shown(live[key]), secret });
    }
    return drifts;
}

/** The GitHub Actions warning for one drift. */
export function driftWarning(d: Drift): string {
    const what = d.secret ? "its encrypted value differs" : `deployed ${d.live ?? "(unset)"}, committed ${d.committed ?? "(unset)"}`;
    return `::warning title=Stack config changed outside git::${d.key}: ${what}. This deploy applies the committed file and undoes it; ` +
        "to keep a change, commit it (switch workflow or a pull request).";
}

async function main(): Promise<number> {
    const { values } = parseArgs({ options: { committed: { type: "string" }, live: { type: "string" } } });
    if (!values.committed || !values.live) throw new CliError("--committed <file> and --live <file> are required", 2);
    const drifts = configDrift(values.committed, values.live);
    for (const d of drifts) process.stdout.write(`${driftWarning(d)}\n`);
    if (drifts.length === 0) process.stdout.write("The live stack's config matches the committed file.\n");
    return 0;
}

if (require.main === module) runCommand(main);
