import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";

const root = path.join(__dirname, "..");
const WORKFLOWS = path.join(root, ".github", "workflows");
const workflow = (name: string) => parse(fs.readFileSync(path.join(WORKFLOWS, name), "utf8"));
const steps = (wf: any, job: string): any[] => wf.jobs[job].steps;
/** Every `uses:` line of a workflow file, raw: YAML parsing drops the version comments. */
const usesLines = (name: string) => fs.readFileSync(path.join(WORKFLOWS, name), "utf8").split("\n").filter((l) => /^\s*-?\s*uses:/.test(l) && !/uses: \.\//.test(l));
const uses = (wf: any, job: string, action: string) => steps(wf, job).filter((s) => typeof s.uses === "string" && s.uses.split("@")[0] === action);
const runs = (wf: any, job: string) => steps(wf, job).map((s) => s.run).filter(Boolean).join("\n");
const stepNamed = (wf: any, job: string, name: RegExp) => steps(wf, job).find((s) => name.test(s.name ?? ""));
const FILES = ["preview.yml", "deploy.yml", "switch.yml"];

describe("GitHub workflows", () => {
    const preview = workflow("preview.yml");
    const deploy = workflow("deploy.yml");
    const switchWf = workflow("switch.yml");

    it("preview: the plan job runs the PR's code with no cloud credentials, so fork PRs get it too", () => {
        assert.deepEqual(Object.keys(preview.on), ["pull_request"]);
        assert.deepEqual(preview.permissions, {});
        assert.deepEqual(preview.jobs.plan.permissions, { "contents": "read", "pull-requests": "write" });
        assert.equal(preview.jobs.plan.if, undefined, "every PR, forks included");
        assert.doesNotMatch(JSON.stringify(preview.jobs.plan), /auth-actions|google-github-actions|id-token|secrets\./);
        assert.equal(preview.concurrency["cancel-in-progress"], true);
    });

    it("preview: tests, then plans the merge commit against its first parent, into the job summary, failing on a violation", () => {
        const commands = steps(preview, "plan").map((s) => s.run ?? s.uses);
        assert.ok(commands.indexOf("npm ci") < commands.indexOf("npm test"));
        const plan = stepNamed(preview, "plan", /^Plan/);
        assert.ok(commands.indexOf("npm test") < commands.indexOf(plan.run));
        assert.match(plan.run, /npm run --silent pr-plan -- --base HEAD\^1 --head HEAD --out "\$\{RUNNER_TEMP\}\/pr-plan\.md" \|\| status=\$\?/);
        assert.match(plan.run, />> "\$\{GITHUB_STEP_SUMMARY\}"/);
        assert.match(plan.run, /exit "\$\{status\}"$/m);
        assert.equal(steps(preview, "plan")[0].with["fetch-depth"], 2);
        assert.ok(fs.existsSync(path.join(root, "offline", "pr-plan.ts")));
    });

    it("preview: one comment per PR through pr-comment, same-repository PRs only, even when the plan failed", () => {
        const comment = stepNamed(preview, "plan", /comment/i);
        assert.equal(comment.if, "${{ !cancelled() && github.event.pull_request.head.repo.full_name == github.repository }}");
        assert.match(comment.run, /npm run --silent pr-comment -- --repo "\$\{GITHUB_REPOSITORY\}" --pr "\$\{PR\}" --body-file "\$\{RUNNER_TEMP\}\/pr-plan\.md"/);
        assert.equal(comment.env.GH_TOKEN, "${{ github.token }}");
        assert.doesNotMatch(JSON.stringify(preview), /gh pr comment/, "no step adds a comment per push");
    });

    it("preview: the live preview runs as the read-only preview identity, with no environment, never for forks", () => {
        const job = preview.jobs.preview;
        assert.equal(job.if, "github.event.pull_request.head.repo.full_name == github.repository && vars.PULUMI_PREVIEW_TEAM != ''");
        assert.equal(job.environment, undefined, "no environment: the OIDC subject is repo:<owner>/<repo>:pull_request");
        assert.deepEqual(job.permissions, { "contents": "read", "pull-requests": "write", "id-token": "write" });
        const [gcp] = uses(preview, "preview", "google-github-actions/auth");
        assert.equal(gcp.with.service_account, "${{ vars.GCP_PREVIEW_SERVICE_ACCOUNT }}");
        const [pulumiAuth] = uses(preview, "preview", "pulumi/auth-actions");
        assert.equal(pulumiAuth.with["requested-token-type"], "urn:pulumi:token-type:access_token:team");
        assert.equal(pulumiAuth.with.scope, "team:${{ vars.PULUMI_PREVIEW_TEAM }}");
        const [pulumi] = uses(preview, "preview", "pulumi/actions");
        assert.equal(pulumi.with.command, "preview");
        assert.equal(pulumi.with["comment-on-pr"], true);
        assert.equal(pulumi.with.policyPacks, "policy");
        assert.doesNotMatch(JSON.stringify(preview), /GCP_DEPLOY_SERVICE_ACCOUNT|GCP_SERVICE_ACCOUNT\b/);
    });

    it("deploy: main's newest commit, behind the dev environment, as the deploy identity, one run at a time", () => {
        assert.deepEqual(deploy.on.push, { branches: ["main"] });
        assert.deepEqual(Object.keys(deploy.on.workflow_call.inputs), ["switch-commit"]);
        assert.deepEqual(deploy.permissions, { "contents": "read", "id-token": "write" });
        const job = deploy.jobs.up;
        assert.equal(job.environment, "dev");
        assert.deepEqual(job.concurrency, { "group": "pulumi-up-dev", "cancel-in-progress": false });
        assert.equal(steps(deploy, "up")[0].with.ref, "main");
        assert.equal(uses(deploy, "up", "google-github-actions/auth")[0].with.service_account, "${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}");
        const [up] = uses(deploy, "up", "pulumi/actions").filter((s) => s.with?.command === "up");
        assert.equal(up.with.policyPacks, "policy");
        assert.equal(up.with.upsert, true);
        const test = steps(deploy, "up").find((s) => s.run === "npm test");
        assert.equal(test.if, "github.event_name == 'push'", "a switch is never held up by the suite");
    });

    it("deploy: warns about config changed outside git before pulumi up, and restores the committed file", () => {
        const drift = stepNamed(deploy, "up", /config differs/);
        const order = steps(deploy, "up");
        assert.ok(order.indexOf(drift) < order.findIndex((s) => s.with?.command === "up"));
        assert.ok(order.findIndex((s) => s.uses?.startsWith("pulumi/actions") && !s.with) < order.indexOf(drift), "the CLI is installed first");
        assert.match(drift.run, /pulumi config refresh --force --stack "\$\{STACK_NAME\}"/);
        assert.match(drift.run, /npm run --silent config-drift -- --committed "\$\{committed\}" --live "Pulumi\.\$\{STACK\}\.yaml"/);
        assert.match(drift.run, /cp "\$\{committed\}" "Pulumi\.\$\{STACK\}\.yaml"\s*$/);
    });

    it("switch: commits the color to main, then deploys through deploy.yml in the same concurrency group", () => {
        const input = switchWf.on.workflow_dispatch.inputs;
        assert.deepEqual(input.color.options, ["blue", "green"]);
        assert.equal(input.reason.required, true);
        assert.deepEqual(switchWf.jobs.commit.permissions, { contents: "write" });
        const commit = stepNamed(switchWf, "commit", /^Commit/);
        assert.match(commit.run, /npm run --silent switch-color -- --stack "\$\{STACK\}" --color "\$\{COLOR\}"/);
        assert.match(commit.run, /\[skip ci\]/, "an App-token push must not start a second deploy");
        assert.match(commit.run, /git push origin HEAD:main/);
        assert.match(commit.run, /git pull --quiet --rebase origin main/);
        assert.doesNotMatch(commit.run, /\$\{\{/, "inputs reach the script as environment variables, never as script text");
        const plan = stepNamed(switchWf, "commit", /^Plan/);
        assert.match(plan.run, /--expect-only VirtualService/);
        assert.ok(steps(switchWf, "commit").indexOf(plan) < steps(switchWf, "commit").indexOf(commit), "planned before it is committed");
        const job = switchWf.jobs.deploy;
        assert.equal(job.uses, "./.github/workflows/deploy.yml");
        assert.equal(job.with["switch-commit"], "${{ needs.commit.outputs.commit }}");
        assert.deepEqual(job.permissions, { "contents": "read", "id-token": "write" });
    });

    it("switch: pushes with the switch App's token when configured (a ruleset bypass actor), else GITHUB_TOKEN", () => {
        const [app] = uses(switchWf, "commit", "actions/create-github-app-token");
        assert.equal(app.if, "vars.SWITCH_APP_ID != ''");
        assert.equal(app.with["private-key"], "${{ secrets.SWITCH_APP_PRIVATE_KEY }}");
        const [checkout] = uses(switchWf, "commit", "actions/checkout");
        assert.equal(checkout.with.token, "${{ steps.app.outputs.token || github.token }}");
        assert.equal(checkout.with.ref, "main");
    });

    it("all: pin every action by commit SHA with its release in a comment, on current majors", () => {
        const minimum: Record<string, [number, number]> = {
            "pulumi/actions": [7, 0], "pulumi/auth-actions": [2, 1], "google-github-actions/auth": [3, 0],
            "google-github-actions/setup-gcloud": [3, 0], "actions/checkout": [5, 0], "actions/setup-node": [5, 0], "actions/setup-go": [5, 0],
            "actions/create-github-app-token": [3, 0],
        };
        for (const name of FILES) {
            const lines = usesLines(name);
            assert.ok(lines.length >= 3, name);
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

    it("all: Node.js from .node-version, the version the project pins", () => {
        const pinned = fs.readFileSync(path.join(root, ".node-version"), "utf8").trim();
        assert.match(pinned, /^\d+\.\d+\.\d+$/);
        for (const [wf, job] of [[preview, "plan"], [preview, "preview"], [deploy, "up"], [switchWf, "commit"]] as const) {
            const [node] = uses(wf, job, "actions/setup-node");
            assert.deepEqual(node.with, { "node-version-file": ".node-version", "cache": "npm" }, job);
        }
    });

    it("all: Pulumi Cloud through OIDC and GCP through Workload Identity Federation, never a stored key", () => {
        for (const [wf, job] of [[preview, "preview"], [deploy, "up"]] as const) {
            const [auth] = uses(wf, job, "pulumi/auth-actions");
            assert.match(auth.with.organization, /\$\{\{ vars\.PULUMI_ORGANIZATION \}\}/);
            const order = steps(wf, job).map((s) => s.uses?.split("@")[0]);
            assert.ok(order.indexOf("pulumi/auth-actions") < order.lastIndexOf("pulumi/actions"), "the token exists before pulumi runs");
            const [gcp] = uses(wf, job, "google-github-actions/auth");
            assert.equal(gcp.with.workload_identity_provider, "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}");
            const [gcloud] = uses(wf, job, "google-github-actions/setup-gcloud");
            assert.equal(gcloud.with.install_components, "gke-gcloud-auth-plugin");
        }
        for (const wf of [preview, deploy, switchWf]) assert.doesNotMatch(JSON.stringify(wf), /PULUMI_ACCESS_TOKEN|credentials_json|GOOGLE_CREDENTIALS/);
    });

    it("all: the npm scripts the workflows run exist", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).scripts;
        for (const wf of [preview, deploy, switchWf]) {
            for (const job of Object.keys(wf.jobs).filter((j) => wf.jobs[j].steps)) {
                for (const m of runs(wf, job).matchAll(/npm run --silent ([\w:-]+)/g)) assert.ok(m[1] in scripts, `npm run ${m[1]}`);
            }
        }
    });

    it("points at a policy pack that exists", () => {
        for (const [wf, job] of [[preview, "preview"], [deploy, "up"]] as const) {
            const dir = path.join(root, uses(wf, job, "pulumi/actions").find((s) => s.with?.policyPacks).with.policyPacks);
            // The CLI parses this file before anything else; an unquoted ": " in it breaks every preview.
            const manifest = parse(fs.readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8"));
            assert.equal(manifest.runtime, "nodejs");
            assert.ok(fs.existsSync(path.join(dir, "index.ts")));
        }
    });

    describe("actionlint", function () {
        this.timeout(60_000);
        /** actionlint from $ACTIONLINT, PATH or the e2e tool cache (e2e/build-tools.sh builds it). */
        const binary = [process.env.ACTIONLINT, path.join(process.env.E2E_CACHE ?? path.join(os.homedir(), ".cache", "bluegreen-e2e"), "path", "actionlint"),
            ...(process.env.PATH ?? "").split(path.delimiter).map((d) => path.join(d, "actionlint"))].find((p) => p && fs.existsSync(p));

        it("finds nothing in the workflow files", function () {
            if (!binary) {
                console.log("      (skipped: no actionlint; build it with `bash e2e/build-tools.sh`, or set ACTIONLINT=<path>)");
                this.skip();
            }
            const run = spawnSync(binary!, ["-no-color", ...FILES.map((f) => path.join(WORKFLOWS, f))], { cwd: root, encoding: "utf8" });
            assert.equal(run.status, 0, run.stdout + run.stderr);
        });

        it("catches a broken workflow (the check is real)", function () {
            if (!binary) this.skip();
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "actionlint-"));
            try {
                fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
                const broken = fs.readFileSync(path.join(WORKFLOWS, "switch.yml"), "utf8").replace("needs.commit.outputs.commit", "needs.commit.outputs.missing");
                fs.writeFileSync(path.join(dir, ".github", "workflows", "switch.yml"), broken);
                fs.copyFileSync(path.join(WORKFLOWS, "deploy.yml"), path.join(dir, ".github", "workflows", "deploy.yml"));
                const run = spawnSync(binary!, ["-no-color", path.join(".github", "workflows", "switch.yml")], { cwd: dir, encoding: "utf8" });
                assert.equal(run.status, 1, run.stdout + run.stderr);
                assert.match(run.stdout, /missing/);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
