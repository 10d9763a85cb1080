// npm run pr-plan: what merging a pull request would do, planned from the two commits themselves.
// Each commit is extracted into os.tmpdir() and its own program (code, Pulumi.yaml, lockfile and
// stack files) is evaluated under the mock engine; every declared object of the base is then
// diffed against the head's. Nothing is grepped: stack files are parsed as YAML, `secure:` values
// stay encrypted (the program sees stand-ins) and only their ciphertexts are compared.
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { describeRouting, VirtualServiceSpec } from "../components/routing";
import { SECRET_SETTINGS } from "../components/stack-config";
import { CliError, maskSecrets, runCommand } from "./cli";
import { formatPlan, Plan, planChanges, shortType, unexpectedChanges } from "./diff";
import { DeclaredResource } from "./engine";
import type { WorkerResult } from "./pr-render-worker";

/** The hidden first line that identifies the plan comment, so each push updates it in place. */
export const COMMENT_MARKER = "<!-- gke-istio-bluegreen:pr-plan -->";
/** The only kind a pull request that moves traffic may change. */
export const SWITCH_KIND = "VirtualService";
/** The files copied into a commit's checkout to evaluate its program there (see pr-render-worker.ts). */
const WORKER_FILES = ["engine", "program", "stack-files", "pr-render-worker"];
/** Where the worker files go inside an extracted commit. */
const WORKER_DIR = ".pr-plan";

/** One stack of one commit, as its own program declares it. */
export interface StackRender {
    /** False when the commit has no Pulumi.<stack>.yaml. */
    present: boolean;
    resources: DeclaredResource[];
    config: Record<string, string>;
    /** Ciphertext fingerprints of the `secure:` settings, by fully qualified key. */
    ciphertexts: Record<string, string>;
    /** The program's refusal, or why the stack could not be evaluated. */
    error?: string;
}

/** One line of the traffic table: which requests to one host go where, before and after. */
export interface TrafficRow {
    virtualService: string;
    host: string;
    requests: string;
    before?: string;
    after?: string;
}

/** A setting whose effective value differs (project defaults included). */
export interface SettingChange {
    key: string;
    before?: string;
    after?: string;
    /** Encrypted (compared by ciphertext, never decrypted) or a credential setting: values not shown. */
    secret: boolean;
}

/** The plan of one stack. */
export interface StackPlan {
    stack: string;
    status: "new" | "removed" | "planned" | "error";
    plan?: Plan;
    traffic: TrafficRow[];
    settings: SettingChange[];
    /** True when the pull request changes where requests go (the traffic table) or activeColor. */
    movesTraffic: boolean;
    /** Why the VirtualService-only check failed; empty when it passed or does not apply. */
    violations: string[];
    error?: string;
}

/** The whole plan: one entry per stack, and how each commit's dependencies were provided. */
export interface PullRequestPlan {
    base: { rev: string; sha: string; dependencies: string };
    head: { rev: string; sha: string; dependencies: string };
    stacks: StackPlan[];
}

function git(repo: string, args: string[]): string {
    return execFileSync("git", args, { cwd: repo, encoding: "utf8", maxBuffer: 256 * 2 ** 20 }).trim();
}

/** The commit a revision names, refusing anything that is not one. */
function resolveCommit(repo: string, rev: string): string {
    try {
        return git(repo, ["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]);
    } catch {
        throw new CliError(`${rev}: not a commit in ${repo}`, 2);
    }
}

/** The stacks a commit has: the names of its Pulumi.<stack>.yaml files at the top level. */
function stacksOf(repo: string, sha: string): string[] {
    return git(repo, ["ls-tree", "--name-only", sha]).split("\n").map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => !!s);
}

/** Fingerprints of the `secure:` values in a commit's stack file, read from git and parsed as YAML. */
function ciphertextsOf(repo: string, sha: string, stack: string, project: string): Record<string, string> {
    const document = parse(git(repo, ["show", `${sha}:Pulumi.${stack}.yaml`])) ?? {};
    const fingerprints: Record<string, string> = {};
    for (const [key, value] of Object.entries<any>(document.config ?? {})) {
        if (value !== null && typeof value === "object" && "secure" in value) {
            fingerprints[key.includes(":") ? key : `${project}:${key}`] = crypto.createHash("sha256").update(String(value.secure)).digest("hex");
        }
    }
    return fingerprints;
}

/** Extracts a commit's files into a new temporary directory (git archive: nothing is written into the repository). */
function extractCommit(repo: string, sha: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pr-plan-${sha.slice(0, 7)}-`));
    const archive = execFileSync("git", ["archive", "--format=tar", sha], { cwd: repo, maxBuffer: 1024 * 2 ** 20 });
    execFileSync("tar", ["-x", "-C", dir], { input: archive });
    return dir;
}

/**
 * Gives an extracted commit its dependencies: the checkout's node_modules, linked, when both
 * lockfiles are byte-for-byte equal (the same packages would be installed); otherwise its own
 * `npm ci`. Returns what was done, for the comment.
 */
function provideDependencies(tree: string, checkout: string): string {
    const lock = (dir: string) => fs.readFileSync(path.join(dir, "package-lock.json"), { encoding: "utf8", flag: "r" });
    const shared = path.join(checkout, "node_modules");
    if (fs.existsSync(shared) && fs.existsSync(path.join(tree, "package-lock.json")) && lock(tree) === lock(checkout)) {
        fs.symlinkSync(fs.realpathSync(shared), path.join(tree, "node_modules"));
        return "node_modules shared with the checkout (package-lock.json identical)";
    }
    const install = spawnSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: tree, encoding: "utf8" });
    if (install.status !== 0) throw new CliError(`npm ci in the extracted commit failed:\n${install.stderr}`);
    return "installed with npm ci (its package-lock.json differs from the checkout's)";
}

/** Renders of earlier calls, by tree id and stack: a tree renders the same every time. */
const renderCache = new Map<string, StackRender>();
const dependencyNotes = new Map<string, string>();

/** The tsconfig `pulumi up` compiles a commit's program with: Pulumi.yaml runtime.options.tsconfig, else tsconfig.json. */
function programTsconfig(tree: string): string {
    const named = parse(fs.readFileSync(path.join(tree, "Pulumi.yaml"), "utf8"))?.runtime?.options?.tsconfig;
    return path.join(tree, typeof named === "string" && named !== "" ? named : "tsconfig.json");
}

/**
 * Where transpiled files are kept between renders (the project's cached transpiler, when the commit
 * has one): outside both the repository and the linked node_modules; entries are keyed by content.
 */
const TRANSPILE_CACHE = path.join(os.tmpdir(), "gke-istio-bluegreen-pr-plan-ts");

/** Evaluates one stack in an extracted commit with that commit's own program, packages and compiler settings. */
function renderStack(tree: string, stack: string): StackRender {
    const out = path.join(tree, WORKER_DIR, `${stack}.json`);
    const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(tree, WORKER_DIR, "pr-render-worker.ts"), stack, out], {
        cwd: tree, encoding: "utf8", maxBuffer: 64 * 2 ** 20,
        env: { ...process.env, TS_NODE_PROJECT: programTsconfig(tree), BLUEGREEN_TS_CACHE_DIR: TRANSPILE_CACHE },
    });
    if (run.status !== 0) {
        return { present: true, resources: [], config: {}, ciphertexts: {}, error: (run.stderr || run.stdout).trim() || `exit code ${run.status}` };
    }
    const result: WorkerResult = JSON.parse(fs.readFileSync(out, "utf8"));
    return { present: true, resources: result.resources as DeclaredResource[], config: result.config, ciphertexts: {}, error: result.error };
}

/** Renders the given stacks of a commit, extracting and installing it only when a stack is not cached. */
export function renderCommit(repo: string, sha: string, stacks: string[], checkout: string): { renders: Map<string, StackRender>; dependencies: string } {
    const treeId = git(repo, ["rev-parse", `${sha}^{tree}`]);
    const present = new Set(stacksOf(repo, sha));
    const project = parse(git(repo, ["show", `${sha}:Pulumi.yaml`]))?.name ?? "";
    const missing = stacks.filter((s) => present.has(s) && !renderCache.has(`${treeId}:${s}`));
    if (missing.length > 0) {
        const tree = extractCommit(repo, sha);
        try {
            dependencyNotes.set(treeId, provideDependencies(tree, checkout));
            fs.mkdirSync(path.join(tree, WORKER_DIR));
            const ext = path.extname(__filename);
            for (const file of WORKER_FILES) fs.copyFileSync(path.join(__dirname, `${file}${ext}`), path.join(tree, WORKER_DIR, `${file}${ext}`));
            for (const stack of missing) renderCache.set(`${treeId}:${stack}`, renderStack(tree, stack));
        } finally {
            fs.rmSync(tree, { recursive: true, force: true });
        }
    }
    const renders = new Map<string, StackRender>();
    for (const stack of stacks) {
        const cached = renderCache.get(`${treeId}:${stack}`);
        renders.set(stack, cached ? { ...cached, ciphertexts: ciphertextsOf(repo, sha, stack, project) } : { present: false, resources: [], config: {}, ciphertexts: {} });
    }
    return { renders, dependencies: dependencyNotes.get(treeId) ?? "not needed (no stack to render)" };
}

function virtualServices(resources: DeclaredResource[]): DeclaredResource[] {
    return resources.filter((r) => r.custom && r.inputs.kind === SWITCH_KIND);
}

/** The traffic table: for each VirtualService, host and route (first match wins), where requests go before and after. */
export function trafficTable(before: DeclaredResource[], after: DeclaredResource[]): TrafficRow[] {
    const rows = new Map<string, TrafficRow>();
    const add = (resources: DeclaredResource[], side: "before" | "after") => {
        for (const vs of virtualServices(resources)) {
            const spec = vs.inputs.spec as VirtualServiceSpec;
            const name = `${vs.inputs.metadata.namespace}/${vs.inputs.metadata.name}`;
            for (const host of spec.hosts) {
                for (const route of describeRouting(spec)) {
                    const key = JSON.stringify([name, host, route.when]);
                    const row = rows.get(key) ?? { virtualService: name, host, requests: route.when };
                    row[side] = route.to;
                    rows.set(key, row);
                }
            }
        }
    };
    add(after, "after");
    add(before, "before");
    return [...rows.values()];
}

/** Settings whose effective values differ; encrypted ones by ciphertext, credential settings without values. */
export function settingChanges(before: StackRender, after: StackRender): SettingChange[] {
    const keys = [...new Set([...Object.keys(before.config), ...Object.keys(after.config)])].sort();
    const changes: SettingChange[] = [];
    for (const key of keys) {
        const encrypted = key in before.ciphertexts || key in after.ciphertexts;
        const credential = SECRET_SETTINGS.has(key.split(":").pop()!) && !key.startsWith("gcp:");
        const differs = encrypted ? before.ciphertexts[key] !== after.ciphertexts[key] : before.config[key] !== after.config[key];
        if (!differs) continue;
        changes.push(encrypted || credential ? { key, secret: true } : { key, before: before.config[key], after: after.config[key], secret: false });
    }
    return changes;
}

/** The display name of a resource: namespace/name for Kubernetes objects, else its Pulumi name. */
function objectName(r: DeclaredResource): string {
    const meta = r.inputs.metadata;
    return meta?.name ? (meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name) : r.name;
}

/** Plans one stack from its two renders and applies the VirtualService-only rule. */
export function planStack(stack: string, before: StackRender, after: StackRender): StackPlan {
    const empty = { stack, traffic: [], settings: [], movesTraffic: false, violations: [] };
    if (!after.present) return { ...empty, status: "removed", traffic: trafficTable(before.resources, []) };
    if (after.error) return { ...empty, status: "error", error: `the head does not evaluate: ${after.error}`, violations: [`the head does not evaluate`] };
    if (!before.present) return { ...empty, status: "new", plan: planChanges([], after.resources), traffic: trafficTable([], after.resources) };
    if (before.error) return { ...empty, status: "error", error: `the base does not evaluate: ${before.error}`, violations: [`the base does not evaluate`] };

    const plan = planChanges(before.resources, after.resources);
    const traffic = trafficTable(before.resources, after.resources);
    const settings = settingChanges(before, after);
    const activeColorChanged = settings.some((s) => s.key.endsWith(":activeColor"));
    const movesTraffic = activeColorChanged || traffic.some((row) => row.before !== row.after);
    const violations: string[] = [];
    if (movesTraffic) {
        for (const r of unexpectedChanges(plan, SWITCH_KIND)) violations.push(`${shortType(r)} ${objectName(r)} (${r.type})`);
        for (const s of settings.filter((s) => s.secret)) violations.push(`encrypted setting ${s.key} (its effect cannot be planned offline)`);
    }
    return { stack, status: "planned", plan, traffic, settings, movesTraffic, violations };
}

/** Plans a pull request: every stack of either commit (or the given ones), base against head. */
export function planPullRequest(options: { repo: string; base: string; head: string; stacks?: string[]; checkout?: string }): PullRequestPlan {
    const baseSha = resolveCommit(options.repo, options.base);
    const headSha = resolveCommit(options.repo, options.head);
    const stacks = options.stacks?.length ? options.stacks : [...new Set([...stacksOf(options.repo, baseSha), ...stacksOf(options.repo, headSha)])].sort();
    const checkout = options.checkout ?? options.repo;
    const base = renderCommit(options.repo, baseSha, stacks, checkout);
    const head = renderCommit(options.repo, headSha, stacks, checkout);
    return {
        base: { rev: options.base, sha: baseSha, dependencies: base.dependencies },
        head: { rev: options.head, sha: headSha, dependencies: head.dependencies },
        stacks: stacks.map((s) => planStack(s, base.renders.get(s)!, head.renders.get(s)!)),
    };
}

/** True when the pull request fails the VirtualService-only check (or a commit does not evaluate). */
export function failed(plan: PullRequestPlan): boolean {
    return plan.stacks.some((s) => s.violations.length > 0);
}

const cell = (text: string | undefined) => (text === undefined ? "(none)" : text.replace(/\|/g, "\\|"));
const code = (text: string | undefined) => (text === undefined ? "(unset)" : `\`${text.replace(/`/g, "'")}\``);

function trafficLines(rows: TrafficRow[]): string[] {
    if (rows.length === 0) return ["No VirtualService routes traffic in this stack."];
    return [
        "| VirtualService | Host | Requests (first match wins) | Before | After |",
        "| --- | --- | --- | --- | --- |",
        ...rows.map((r) => {
            const moved = r.before !== r.after;
            const show = (v: string | undefined) => (moved ? `**${cell(v)}**` : cell(v));
            return `| ${r.virtualService} | ${r.host} | ${cell(r.requests)} | ${show(r.before)} | ${show(r.after)} |`;
        }),
    ];
}

function changeLines(plan: Plan): string[] {
    const rows = [
        ...plan.creates.map((r) => ["create", r, "(new)"] as const),
        ...plan.updates.map((u) => ["update", u.resource, u.changes.map((c) => c.path).slice(0, 4).join(", ") + (u.changes.length > 4 ? `, and ${u.changes.length - 4} more` : "")] as const),
        ...plan.deletes.map((r) => ["delete", r, ""] as const),
    ];
    if (rows.length === 0) return [`No object changes (${plan.unchanged} unchanged).`];
    return [
        "| Change | Kind | Object | Fields |",
        "| --- | --- | --- | --- |",
        ...rows.map(([op, r, fields]) => `| ${op} | ${shortType(r)} | ${cell(objectName(r))} | ${cell(fields)} |`),
        "",
        `${plan.creates.length} to create, ${plan.updates.length} to update, ${plan.deletes.length} to delete, ${plan.unchanged} unchanged.`,
    ];
}

function settingLines(settings: SettingChange[]): string[] {
    if (settings.length === 0) return ["Settings: no effective setting changes (Pulumi.yaml defaults included)."];
    return ["Settings that change (Pulumi.yaml defaults included):", "",
        ...settings.map((s) => s.secret ? `- \`${s.key}\`: encrypted value changed (compared by ciphertext, never decrypted)` : `- \`${s.key}\`: ${code(s.before)} → ${code(s.after)}`)];
}

function checkLine(s: StackPlan): string {
    if (!s.movesTraffic) return `VirtualService-only check: not applicable (this pull request does not move traffic in stack ${s.stack}).`;
    if (s.violations.length === 0) return `**VirtualService-only check: passed.** Traffic moves and only ${SWITCH_KIND} objects change.`;
    return `**VirtualService-only check: FAILED.** Traffic moves, and these change too: ${s.violations.join("; ")}. ` +
        "Ship the rollout first and the switch in a pull request of its own.";
}

/** The pull-request comment (Markdown), starting with the hidden marker. */
export function renderComment(plan: PullRequestPlan): string {
    const lines = [
        COMMENT_MARKER,
        `## Stack plan: base \`${plan.base.sha.slice(0, 7)}\` → head \`${plan.head.sha.slice(0, 7)}\``,
        "",
        "Both commits' own programs (code, `Pulumi.yaml`, lockfile, stack files) evaluated offline under Pulumi's mock engine and diffed object by object. " +
        "Encrypted settings are never decrypted: the program sees stand-ins. `pulumi preview` against the live stack remains the final word.",
    ];
    for (const s of plan.stacks) {
        lines.push("", `### Stack \`${s.stack}\``, "");
        if (s.status === "error") {
            lines.push(`**Cannot plan:** ${s.error}`);
            continue;
        }
        if (s.status === "removed") {
            lines.push("The stack file is removed in this pull request. Its resources stay until `pulumi destroy` is run for it.");
            continue;
        }
        if (s.status === "new") lines.push("New stack file: its first deployment creates everything below. VirtualService-only check: not applicable (no live traffic yet).", "");
        lines.push("Traffic:", "", ...trafficLines(s.traffic), "");
        if (s.status === "planned") lines.push(...settingLines(s.settings), "");
        lines.push("Objects:", "", ...changeLines(s.plan!));
        if (s.plan!.creates.length + s.plan!.updates.length + s.plan!.deletes.length > 0 && s.status === "planned") {
            lines.push("", "<details><summary>Field by field, in the order the engine applies them</summary>", "", "```", formatPlan(s.plan!), "```", "", "</details>");
        }
        if (s.status === "planned") lines.push("", checkLine(s));
    }
    lines.push("", `Dependencies: base ${plan.base.dependencies}; head ${plan.head.dependencies}.`, "");
    return maskSecrets(lines.join("\n"));
}

const HELP = `Usage: npm run pr-plan -- --base <rev> [--head <rev>] [options]

Plans what merging a pull request does: extracts the base and the head commit into temporary
directories, evaluates each commit's own program for every stack under Pulumi's mock engine,
and diffs every object. Writes a Markdown comment with the traffic table before and after, every
object that changes and the settings that change.

VirtualService-only check: when the pull request moves traffic (the traffic table or activeColor
changes) in a stack that exists on both sides, nothing but VirtualService objects may change there
(no Deployment, no Namespace, no encrypted setting); otherwise the exit code is 1.

Options:
  --base <rev>      the commit the pull request merges into (in CI: the merge commit's HEAD^1)
  --head <rev>      the commit to plan (default: HEAD)
  --stack <name>    plan only this stack (repeatable; default: every Pulumi.<stack>.yaml of either commit)
  --repo <dir>      the git repository (default: the current directory)
  --out <file>      write the comment there (default: stdout)
  -h, --help        show this help

Exit codes: 0 planned; 1 the VirtualService-only check failed or a commit does not evaluate; 2 usage error.`;

async function main(): Promise<number> {
    let values: Record<string, any>;
    try {
        values = parseArgs({
            args: process.argv.slice(2),
            options: {
                base: { type: "string" }, head: { type: "string", default: "HEAD" }, stack: { type: "string", multiple: true, default: [] },
                repo: { type: "string", default: process.cwd() }, out: { type: "string" }, help: { type: "boolean", short: "h", default: false },
            },
        }).values;
    } catch (e) {
        throw new CliError(`${(e as Error).message} (see --help)`, 2);
    }
    if (values.help) {
        process.stdout.write(`${HELP}\n`);
        return 0;
    }
    if (!values.base) throw new CliError("--base is required (see --help)", 2);
    const repo = git(values.repo, ["rev-parse", "--show-toplevel"]);
    const plan = planPullRequest({ repo, base: values.base, head: values.head, stacks: values.stack });
    const comment = renderComment(plan);
    if (values.out) fs.writeFileSync(values.out, comment);
    else process.stdout.write(comment);
    for (const s of plan.stacks.filter((s) => s.violations.length > 0)) {
        process.stderr.write(`stack ${s.stack}: ${s.error ?? `traffic moves, and not only ${SWITCH_KIND} objects change: ${s.violations.join("; ")}`}\n`);
    }
    return failed(plan) ? 1 : 0;
}

if (require.main === module) runCommand(main);
