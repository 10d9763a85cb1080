import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { copyWorkingTree } from "../offline/working-copy";

const root = path.join(__dirname, "..");
const workflow = (name: string) => parse(fs.readFileSync(path.join(root, ".github", "workflows", name), "utf8"));
const steps = (wf: any, job: string): any[] => wf.jobs[job].steps;
/** Every `uses:` line of a workflow file, raw: YAML parsing drops the version comments. */
const usesLines = (name: string) => fs.readFileSync(path.join(root, ".github", "workflows", name), "utf8").split("\n").filter((l) => /^\s*-?\s*uses:/.test(l));
const uses = (wf: any, job: string, action: string) => steps(wf, job).filter((s) => typeof s.uses === "string" && s.uses.split("@")[0] === action);
const runs = (wf: any, job: string) => steps(wf, job).map((s) => s.run).filter(Boolean).join("\n");

describe("GitHub workflows", () => {
    const preview = workflow("preview.yml");
    const deploy = workflow("deploy.yml");

    it("preview: runs on pull requests with only the permissions it needs", () => {
        assert.deepEqual(Object.keys(preview.on), ["pull_request"]);
        assert.deepEqual(preview.permissions, { "contents": "read", "pull-requests": "write", "id-token": "write" });
        assert.equal(preview.concurrency["cancel-in-progress"], true);
    });

    it("preview: installs from the lockfile, tests, then previews the dev stack with the policy pack and a PR comment", () => {
        const commands = steps(preview, "preview").map((s) => s.run ?? s.uses);
        assert.ok(commands.indexOf("npm ci") < commands.indexOf("npm test"));
        const [pulumi] = uses(preview, "preview", "pulumi/actions");
        assert.match(pulumi.uses, /^pulumi\/actions@[0-9a-f]{40}$/);
        assert.equal(pulumi.with.command, "preview");
        assert.match(pulumi.with["stack-name"], /\$\{\{ env\.STACK \}\}$/);
        assert.equal(preview.env.STACK, "dev");
        assert.equal(pulumi.with["comment-on-pr"], true);
        assert.equal(pulumi.with.policyPacks, "policy");
        assert.ok(commands.indexOf("npm test") < commands.indexOf(pulumi.uses), "tests gate the preview");
    });

    it("both: pin every action by commit SHA with its release in a comment, on current majors", () => {
        const minimum: Record<string, [number, number]> = {
            "pulumi/actions": [7, 0], "pulumi/auth-actions": [2, 1], "google-github-actions/auth": [3, 0],
            "google-github-actions/setup-gcloud": [3, 0], "actions/checkout": [5, 0], "actions/setup-node": [5, 0], "actions/setup-go": [5, 0],
        };
        for (const name of ["preview.yml", "deploy.yml"]) {
            const lines = usesLines(name);
            assert.ok(lines.length >= 6, name);
            for (const line of lines) {
                const m = /uses: ([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # v(\d+)\.(\d+)\.(\d+)$/.exec(line);
                assert.ok(m, `${name}: "${line.trim()}" is pinned by SHA with "# vX.Y.Z"`);
                const [, action, , major, minor] = m;
                assert.ok(action in minimum, `${name}: ${action} is a known action`);
                const [needMajor, needMinor] = minimum[action];
                assert.ok(Number(major) > needMajor || (Number(major) === needMajor && Number(minor) >= needMinor), `${name}: ${action} v${major}.${minor} is current`);
            }
        }
    });

    it("both: authenticate to Pulumi Cloud through OIDC, never a stored access token", () => {
        for (const [wf, job] of [[preview, "preview"], [deploy, "up"]] as const) {
            const [auth] = uses(wf, job, "pulumi/auth-actions");
            assert.ok(auth, `${job}: pulumi/auth-actions`);
            assert.equal(auth.with["requested-token-type"], "urn:pulumi:token-type:access_token:organization");
            assert.match(auth.with.organization, /\$\{\{ vars\.PULUMI_ORGANIZATION \}\}/);
            const order = steps(wf, job).map((s) => s.uses?.split("@")[0]);
            assert.ok(order.indexOf("pulumi/auth-actions") < order.indexOf("pulumi/actions"), "the token exists before the preview");
            assert.doesNotMatch(JSON.stringify(wf), /PULUMI_ACCESS_TOKEN/);
        }
    });

    it("both: authenticate to GCP through Workload Identity Federation, never a JSON key", () => {
        for (const [wf, job] of [[preview, "preview"], [deploy, "up"]] as const) {
            const [auth] = uses(wf, job, "google-github-actions/auth");
            assert.ok(auth.with.workload_identity_provider && auth.with.service_account);
            assert.equal(auth.with.credentials_json, undefined);
            assert.equal(wf.permissions["id-token"], "write");
            assert.doesNotMatch(JSON.stringify(wf), /credentials_json|GOOGLE_CREDENTIALS/);
            const [gcloud] = uses(wf, job, "google-github-actions/setup-gcloud");
            assert.equal(gcloud.with.install_components, "gke-gcloud-auth-plugin");
        }
    });

    it("deploy: pulumi up on pushes to main, behind an environment, one run per stack", () => {
        assert.deepEqual(deploy.on, { push: { branches: ["main"] } });
        assert.deepEqual(deploy.permissions, { "contents": "read", "id-token": "write" });
        const job = deploy.jobs.up;
        assert.equal(job.environment, "dev");
        assert.equal(job.concurrency["cancel-in-progress"], false);
        assert.match(job.concurrency.group, /dev/);
        const [pulumi] = uses(deploy, "up", "pulumi/actions");
        assert.equal(pulumi.with.command, "up");
        assert.equal(pulumi.with.policyPacks, "policy");
        assert.match(runs(deploy, "up"), /npm ci[\s\S]*npm test/);
    });

    it("points at a policy pack that exists", () => {
        for (const wf of [preview, deploy]) {
            const dir = path.join(root, uses(wf, Object.keys(wf.jobs)[0], "pulumi/actions")[0].with.policyPacks);
            // The CLI parses this file before anything else; an unquoted ": " in it breaks every preview.
            const manifest = parse(fs.readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8"));
            assert.equal(manifest.runtime, "nodejs");
            assert.ok(manifest.description.length > 10);
            assert.ok(fs.existsSync(path.join(dir, "index.ts")));
        }
    });

    describe("the switch-plan step, run for real", function () {
        this.timeout(120_000);
        const step = steps(preview, "preview").find((s) => s.name?.startsWith("Switch plan"));
        let fakeBin: string;
        let ghLog: string;

        let repo: string;

        before(() => {
            fakeBin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-gh-"));
            ghLog = path.join(fakeBin, "gh.log");
            // Stands in for the GitHub CLI: records the comment it would post.
            fs.writeFileSync(path.join(fakeBin, "gh"), `#!/bin/sh\necho "$@" >> "${ghLog}"\nshift 3\ncat "$2" >> "${ghLog}"\n`, { mode: 0o755 });
            // A scratch repository holding the working tree as it is (the checkout the workflow sees):
            // refs and files the step writes land there, never in the repository under test.
            repo = copyWorkingTree(root, "switch-plan-repo-");
            const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args], { cwd: repo });
            git("init", "--quiet");
            git("add", "--all");
            git("commit", "--quiet", "-m", "head");
        });
        after(() => {
            fs.rmSync(fakeBin, { recursive: true, force: true });
            fs.rmSync(repo, { recursive: true, force: true });
        });

        /** A base branch (a ref under origin/) whose dev stack file says activeColor=`color`. */
        function baseBranchWith(color: string): string {
            const current = fs.readFileSync(path.join(repo, "Pulumi.dev.yaml"), "utf8");
            const content = current.replace(/(:activeColor:) *\S+/, `$1 ${color}`);
            const git = (args: string[], input?: string) => execFileSync("git", args, { cwd: repo, input, encoding: "utf8" }).trim();
            const blob = git(["hash-object", "-w", "--stdin"], content);
            const tree = git(["mktree"], `100644 blob ${blob}\tPulumi.dev.yaml\n`);
            const commit = git(["-c", "user.name=test", "-c", "user.email=test@example.com", "commit-tree", tree, "-m", "base"]);
            const branch = `switch-plan-test-${color}`;
            git(["update-ref", `refs/remotes/origin/${branch}`, commit]);
            return branch;
        }

        function runStep(baseRef: string) {
            fs.rmSync(ghLog, { force: true });
            const result = spawnSync("bash", ["-e", "-c", step.run], {
                cwd: repo, encoding: "utf8",
                env: { ...process.env, ...preview.env, BASE_REF: baseRef, PR: "42", GH_TOKEN: "x", PATH: `${fakeBin}:${process.env.PATH}` },
            });
            return { ...result, comment: fs.existsSync(ghLog) ? fs.readFileSync(ghLog, "utf8") : "" };
        }

        it("posts a one-resource plan when the PR flips activeColor", () => {
            const head = /:activeColor: *(\S+)/.exec(fs.readFileSync(path.join(repo, "Pulumi.dev.yaml"), "utf8"))![1];
            const base = head === "blue" ? "green" : "blue";
            const result = runStep(baseBranchWith(base));
            assert.equal(result.status, 0, result.stderr + result.stdout);
            assert.match(result.comment, /^pr comment 42 --body-file switch-plan.md/);
            assert.match(result.comment, new RegExp(`activeColor ${base} → ${head}`));
            assert.match(result.comment, new RegExp(`~ spec\\.http\\[2\\]\\.route\\[0\\]\\.destination\\.subset: "${base}" => "${head}"`));
            assert.match(result.comment, /Only VirtualService resources change/);
            assert.ok(!fs.existsSync(path.join(repo, "Pulumi.pr-base.yaml")), "cleans up the temporary stack file");
        });

        it("posts nothing when activeColor is unchanged", () => {
            const head = /:activeColor: *(\S+)/.exec(fs.readFileSync(path.join(repo, "Pulumi.dev.yaml"), "utf8"))![1];
            const result = runStep(baseBranchWith(head));
            assert.equal(result.status, 0, result.stderr);
            assert.match(result.stdout, /activeColor unchanged/);
            assert.equal(result.comment, "");
        });
    });
});
