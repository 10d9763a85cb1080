// npm run pr-plan on real git repositories: a base commit and one pull-request commit per case,
// each planned from the two commits' own programs. The repository is a copy of this working tree
// in os.tmpdir(); both commits share its node_modules (identical lockfiles), and the base is
// rendered once for all cases.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GhRunner, upsertComment, WORKFLOW_ACCOUNT } from "../offline/pr-comment";
import { COMMENT_MARKER, failed, planPullRequest, planStack, PullRequestPlan, renderComment, renderCommit } from "../offline/pr-plan";
import { copyWorkingTree } from "../offline/working-copy";

const ROOT = path.join(__dirname, "..");
const DOC = path.join(ROOT, "docs", "pr-review.md");
const SAMPLE_START = "<!-- sample:start -->";
const SAMPLE_END = "<!-- sample:end -->";
const ACTIVE = /^(\s*gke-istio-bluegreen:activeColor:).*$/m;

/** Commit ids change with every edit of the repository; the doc's sample is compared without them. */
function withoutCommitIds(comment: string): string {
    return comment.replace(/`[0-9a-f]{7}`/g, "`<commit>`");
}

/** The comment of the combined case, the sample docs/pr-review.md shows. */
function docSample(doc: string): string | undefined {
    const start = doc.indexOf(SAMPLE_START);
    const end = doc.indexOf(SAMPLE_END);
    return start === -1 || end === -1 ? undefined : doc.slice(start + SAMPLE_START.length, end).trim();
}

/** The page with `sample` between the markers. */
function withSample(doc: string, sample: string): string {
    return `${doc.slice(0, doc.indexOf(SAMPLE_START) + SAMPLE_START.length)}\n${sample}\n${doc.slice(doc.indexOf(SAMPLE_END))}`;
}

describe("pr-plan: the base commit's program against the head commit's, on real git repositories", function () {
    this.timeout(600_000);
    let repo: string;
    const commits: Record<string, string> = {};
    const plans = new Map<string, PullRequestPlan>();

    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args], { cwd: repo, encoding: "utf8" }).trim();
    const edit = (file: string, change: (text: string) => string) => {
        const target = path.join(repo, file);
        const before = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
        const after = change(before);
        assert.notEqual(after, before, `the edit of ${file} changes it`);
        fs.writeFileSync(target, after);
    };
    /** A pull-request commit on top of the base. */
    const pullRequest = (name: string, change: () => void) => {
        git("checkout", "--quiet", "-B", name, commits.base);
        change();
        git("add", "--all");
        git("commit", "--quiet", "-m", name);
        commits[name] = git("rev-parse", "HEAD");
    };
    const plan = (name: string) => {
        if (!plans.has(name)) plans.set(name, planPullRequest({ repo, base: commits.base, head: commits[name] }));
        return plans.get(name)!;
    };
    const dev = (p: PullRequestPlan) => p.stacks.find((s) => s.stack === "dev")!;

    before(() => {
        repo = copyWorkingTree(ROOT, "pr-plan-repo-");
        git("init", "--quiet");
        // The linked node_modules is a symlink, which the .gitignore pattern "node_modules/" does not cover.
        fs.appendFileSync(path.join(repo, ".git", "info", "exclude"), "node_modules\n");
        const stackFile = fs.readFileSync(path.join(repo, "Pulumi.dev.yaml"), "utf8");
        if (!/activeColor: blue$/m.test(stackFile)) edit("Pulumi.dev.yaml", (t) => t.replace(ACTIVE, "$1 blue"));
        git("add", "--all");
        git("commit", "--quiet", "-m", "base");
        commits.base = git("rev-parse", "HEAD");

        pullRequest("combined", () => edit("Pulumi.dev.yaml", (t) => t.replace(ACTIVE, "$1 green").replace(/(:greenImage:) .*/, "$1 nginx:1.29.0")));
        pullRequest("podSecurity", () => {
            edit("Pulumi.yaml", (t) => t.replace(/(  podSecurity:\n(?:    .*\n)*?    default:) baseline/, "$1 privileged"));
            edit("Pulumi.dev.yaml", (t) => t.replace(ACTIVE, "$1 green"));
        });
        pullRequest("quoted", () => edit("Pulumi.dev.yaml", (t) => t.replace(ACTIVE, '$1 "green"  # release 42')));
        pullRequest("switch", () => edit("Pulumi.dev.yaml", (t) => t.replace(ACTIVE, "$1 green")));
        pullRequest("newStack", () => edit("Pulumi.staging.yaml", () => fs.readFileSync(path.join(repo, "Pulumi.dev.yaml"), "utf8").replace(/sample-ns/g, "staging-ns")));
        // Moves the stack to an existing cluster: an encrypted kubeconfig, and no more GKE cluster settings.
        pullRequest("secret", () => edit("Pulumi.dev.yaml", (t) => `${t.replace(/^.*:(clusterName|deletionProtection):.*\n/gm, "").trimEnd()}\n` +
            "  gke-istio-bluegreen:kubeconfig:\n    secure: v1:Q2lwaGVydGV4dE9ubHk=:bm90LWEtcmVhbC1rZXk=\n"));
        pullRequest("unchanged", () => edit("README.md", (t) => `${t}\nA line of documentation.\n`));
    });
    after(() => fs.rmSync(repo, { recursive: true, force: true }));

    it("a combined change (activeColor and greenImage) fails the VirtualService-only check, naming the Deployment", () => {
        const p = plan("combined");
        const s = dev(p);
        assert.equal(s.movesTraffic, true);
        assert.deepEqual(s.violations, ["Deployment sample-ns/nginx-green (kubernetes:apps/v1:Deployment)"]);
        assert.equal(failed(p), true);
        const comment = renderComment(p);
        assert.match(comment, /VirtualService-only check: FAILED\.\*\* Traffic moves, and these change too: Deployment sample-ns\/nginx-green/);
        assert.match(comment, /\| update \| Deployment \| sample-ns\/nginx-green \| spec\.template\.spec\.containers\[0\]\.image \|/);
        assert.match(comment, /`gke-istio-bluegreen:greenImage`: `nginx:1\.28\.0` → `nginx:1\.29\.0`/);
    });

    it("the command exits 1 for it, names the Deployment on stderr and writes the same comment", () => {
        const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pr-plan-out-")), "plan.md");
        try {
            const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "offline", "pr-plan.ts"), "--base", commits.base, "--head", commits.combined, "--out", out],
                { cwd: repo, encoding: "utf8" });
            assert.equal(run.status, 1, run.stderr);
            assert.match(run.stderr, /stack dev: traffic moves, and not only VirtualService objects change: Deployment sample-ns\/nginx-green/);
            assert.equal(fs.readFileSync(out, "utf8"), renderComment(plan("combined")));
        } finally {
            fs.rmSync(path.dirname(out), { recursive: true, force: true });
        }
    });

    it("a changed Pulumi.yaml default (podSecurity) with a switch fails the check, naming the Namespace", () => {
        const s = dev(plan("podSecurity"));
        assert.equal(s.movesTraffic, true);
        assert.ok(s.violations.some((v) => /^Namespace sample-ns \(kubernetes:core\/v1:Namespace\)$/.test(v)), s.violations.join("; "));
        assert.ok(s.settings.some((c) => c.key === "gke-istio-bluegreen:podSecurity" && c.before === "baseline" && c.after === "privileged"));
    });

    it("a quoted activeColor with a comment (\"green\"  # release 42) plans the switch, and passes", () => {
        const p = plan("quoted");
        const s = dev(p);
        assert.deepEqual(s.settings, [{ key: "gke-istio-bluegreen:activeColor", before: "blue", after: "green", secret: false }]);
        const moved = s.traffic.filter((r) => r.before !== r.after);
        assert.ok(moved.length > 0 && moved.every((r) => r.requests === "everything else" && r.before === "blue 100%" && r.after === "green 100%"), JSON.stringify(s.traffic));
        assert.deepEqual(s.violations, []);
        assert.equal(failed(p), false);
        assert.match(renderComment(p), /\| sample-ns\/nginx \| sample\.hoge\.com \| everything else \| \*\*blue 100%\*\* \| \*\*green 100%\*\* \|/);
    });

    it("a switch-only pull request changes exactly the VirtualService and passes", () => {
        const p = plan("switch");
        const s = dev(p);
        assert.equal(s.plan!.creates.length + s.plan!.deletes.length, 0);
        assert.deepEqual(s.plan!.updates.map((u) => u.resource.inputs.kind), ["VirtualService"]);
        assert.equal(failed(p), false);
        assert.match(renderComment(p), /\*\*VirtualService-only check: passed\.\*\*/);
    });

    it("a new stack file is planned as created everywhere, without failing the check (no live traffic yet)", () => {
        const p = plan("newStack");
        assert.deepEqual(p.stacks.map((s) => [s.stack, s.status]), [["dev", "planned"], ["staging", "new"]]);
        const staging = p.stacks[1];
        assert.ok(staging.plan!.creates.some((r) => r.inputs.kind === "Namespace" && r.inputs.metadata.name === "staging-ns"));
        assert.equal(dev(p).plan!.updates.length, 0);
        assert.equal(failed(p), false);
        assert.match(renderComment(p), /### Stack `staging`\n\nNew stack file: its first deployment creates everything below/);
    });

    it("a secure: value is compared by ciphertext, never decrypted or shown, and its stand-in reaches the program", () => {
        const p = plan("secret");
        const s = dev(p);
        assert.equal(s.status, "planned", s.error);
        assert.deepEqual(s.settings.filter((c) => c.secret), [{ key: "gke-istio-bluegreen:kubeconfig", secret: true }]);
        const comment = renderComment(p);
        assert.match(comment, /`gke-istio-bluegreen:kubeconfig`: encrypted value changed \(compared by ciphertext, never decrypted\)/);
        assert.doesNotMatch(comment, /Q2lwaGVydGV4dE9ubHk|bm90LWEtcmVhbC1rZXk/);
        // The stand-in is an empty kubeconfig: the program renders the stack as one on an existing cluster.
        assert.ok(s.plan!.deletes.some((r) => r.type === "gcp:container/cluster:Cluster"), "the GKE cluster is no longer declared");
        assert.equal(s.movesTraffic, false);
    });

    it("an encrypted setting that changes together with a switch fails the check: its effect cannot be planned", () => {
        const base = renderCommit(repo, commits.base, ["dev"], repo).renders.get("dev")!;
        const head = renderCommit(repo, commits.switch, ["dev"], repo).renders.get("dev")!;
        const key = "gke-istio-bluegreen:kubeconfig";
        const s = planStack("dev", { ...base, ciphertexts: { [key]: "a" } }, { ...head, ciphertexts: { [key]: "b" } });
        assert.deepEqual(s.violations, [`encrypted setting ${key} (its effect cannot be planned offline)`]);
        assert.deepEqual(planStack("dev", { ...base, ciphertexts: { [key]: "a" } }, { ...head, ciphertexts: { [key]: "a" } }).violations, []);
    });

    it("a pull request that leaves the configuration and code alone changes nothing", () => {
        const p = plan("unchanged");
        const s = dev(p);
        assert.deepEqual(s.settings, []);
        assert.equal(s.plan!.creates.length + s.plan!.updates.length + s.plan!.deletes.length, 0);
        assert.ok(s.plan!.unchanged > 10);
        assert.equal(s.movesTraffic, false);
        const comment = renderComment(p);
        assert.match(comment, /VirtualService-only check: not applicable/);
        assert.match(comment, /No object changes \(\d+ unchanged\)\./);
        assert.match(comment, /Dependencies: base node_modules shared with the checkout \(package-lock\.json identical\)/);
    });

    it("docs/pr-review.md shows the comment the combined case produces", () => {
        const fresh = withoutCommitIds(renderComment(plan("combined")).trim());
        const doc = fs.readFileSync(DOC, "utf8");
        const sample = docSample(doc);
        assert.ok(sample !== undefined, `${DOC} has ${SAMPLE_START} … ${SAMPLE_END}`);
        if (withoutCommitIds(sample) !== fresh) {
            const regenerated = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pr-review-doc-")), "pr-review.md");
            fs.writeFileSync(regenerated, withSample(doc, renderComment(plan("combined")).trim()));
            assert.fail(`the sample in docs/pr-review.md is not what pr-plan renders now; the regenerated page is ${regenerated} ` +
                `(review it, then: cp ${regenerated} docs/pr-review.md)`);
        }
    });
});

describe("pr-comment: one comment per pull request, updated in place", () => {
    /** Pull request comments as the GitHub API keeps them, served through the `gh api` calls upsertComment makes. */
    function fakeGitHub(pageSize = 2) {
        const comments: { id: number; body: string; user: { login: string } }[] = [];
        const calls: string[] = [];
        let nextId = 100;
        const gh: GhRunner = (args) => {
            calls.push(args.join(" "));
            const body = () => fs.readFileSync(args[args.indexOf("-F") + 1].replace(/^body=@/, ""), "utf8");
            if (args.includes("--paginate")) {
                assert.ok(args.includes("--slurp"));
                const pages = [];
                for (let i = 0; i < comments.length; i += pageSize) pages.push(comments.slice(i, i + pageSize));
                return JSON.stringify(pages);
            }
            const method = args[args.indexOf("--method") + 1];
            if (method === "PATCH") {
                const id = Number(/issues\/comments\/(\d+)$/.exec(args[3])![1]);
                comments.find((c) => c.id === id)!.body = body();
                return "{}";
            }
            assert.equal(method, "POST");
            const created = { id: nextId++, body: body(), user: { login: WORKFLOW_ACCOUNT } };
            comments.push(created);
            return JSON.stringify(created);
        };
        return { comments, calls, gh };
    }
    let dir: string;
    const bodyFile = (text: string) => {
        const file = path.join(dir, `body-${Math.random().toString(36).slice(2)}.md`);
        fs.writeFileSync(file, text);
        return file;
    };
    before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "pr-comment-")); });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("posts the first plan, then PATCHes that comment on every later push", () => {
        const github = fakeGitHub();
        github.comments.push({ id: 1, body: "LGTM", user: { login: "reviewer" } }, { id: 2, body: "nit", user: { login: "reviewer" } });
        assert.deepEqual(upsertComment("o/r", 7, bodyFile(`${COMMENT_MARKER}\nfirst`), WORKFLOW_ACCOUNT, github.gh), { action: "created", id: 100 });
        assert.deepEqual(upsertComment("o/r", 7, bodyFile(`${COMMENT_MARKER}\nsecond`), WORKFLOW_ACCOUNT, github.gh), { action: "updated", id: 100 });
        assert.deepEqual(upsertComment("o/r", 7, bodyFile(`${COMMENT_MARKER}\nthird`), WORKFLOW_ACCOUNT, github.gh), { action: "updated", id: 100 });
        assert.equal(github.comments.filter((c) => c.body.startsWith(COMMENT_MARKER)).length, 1);
        assert.equal(github.comments.find((c) => c.id === 100)!.body, `${COMMENT_MARKER}\nthird`);
        assert.ok(github.calls.includes(`api --method PATCH repos/o/r/issues/comments/100 -F body=@${github.calls.at(-1)!.split("@").pop()}`));
        assert.ok(github.calls.every((c) => c.startsWith("api ")));
    });

    it("never edits someone else's comment that quotes the marker", () => {
        const github = fakeGitHub();
        github.comments.push({ id: 5, body: `${COMMENT_MARKER}\nquoted by a person`, user: { login: "reviewer" } });
        assert.equal(upsertComment("o/r", 7, bodyFile(`${COMMENT_MARKER}\nplan`), WORKFLOW_ACCOUNT, github.gh).action, "created");
        assert.equal(github.comments.find((c) => c.id === 5)!.body, `${COMMENT_MARKER}\nquoted by a person`);
    });

    it("refuses a body without the marker, which would add a comment on every push", () => {
        const github = fakeGitHub();
        assert.throws(() => upsertComment("o/r", 7, bodyFile("no marker"), WORKFLOW_ACCOUNT, github.gh), /does not start with/);
        assert.deepEqual(github.calls, []);
    });
});
