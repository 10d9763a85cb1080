// npm run pr-comment: posts the plan comment on a pull request, or updates the one posted before,
// so a pull request has one plan comment however often it is pushed. Uses the GitHub CLI's
// `gh api` (GH_TOKEN in the environment): finds the earlier comment by its hidden marker among
// the comments the workflow's own account wrote, and PATCHes it; otherwise POSTs a new one.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { CliError, runCommand } from "./cli";
import { COMMENT_MARKER } from "./pr-plan";

/** The account GITHUB_TOKEN writes comments as: only its comments are ever edited. */
export const WORKFLOW_ACCOUNT = "github-actions[bot]";

/** Runs `gh` with arguments, returning stdout. */
export type GhRunner = (args: string[]) => string;

const ghCli: GhRunner = (args) => execFileSync("gh", args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });

/** An issue comment as the REST API lists it (the fields used here). */
interface IssueComment {
    id: number;
    body?: string;
    user?: { login?: string };
}

/**
 * Creates or updates the plan comment of pull request `pr` in `repo` (owner/name) with `bodyFile`,
 * which must start with the marker. Returns what it did and the comment id.
 */
export function upsertComment(repo: string, pr: number, bodyFile: string, author = WORKFLOW_ACCOUNT, gh: GhRunner = ghCli): { action: "created" | "updated"; id: number } {
    if (!fs.readFileSync(bodyFile, "utf8").startsWith(COMMENT_MARKER)) {
        throw new CliError(`${bodyFile} does not start with ${COMMENT_MARKER}: it would never be found again, and every push would add a comment`);
    }
    // --slurp: one JSON array of pages, however many pages there are.
    const pages: IssueComment[][] = JSON.parse(gh(["api", "--paginate", "--slurp", `repos/${repo}/issues/${pr}/comments`]));
    const earlier = pages.flat().find((c) => c.user?.login === author && (c.body ?? "").startsWith(COMMENT_MARKER));
    if (earlier) {
        gh(["api", "--method", "PATCH", `repos/${repo}/issues/comments/${earlier.id}`, "-F", `body=@${bodyFile}`]);
        return { action: "updated", id: earlier.id };
    }
    const created: IssueComment = JSON.parse(gh(["api", "--method", "POST", `repos/${repo}/issues/${pr}/comments`, "-F", `body=@${bodyFile}`]));
    return { action: "created", id: created.id };
}

const HELP = `Usage: npm run pr-comment -- --repo <owner/name> --pr <number> --body-file <file>

Posts <file> (the output of npm run pr-plan) as the pull request's plan comment, or updates the
comment posted before (found by its hidden marker among ${WORKFLOW_ACCOUNT}'s comments).
Needs the GitHub CLI and GH_TOKEN with pull-requests: write.`;

async function main(): Promise<number> {
    const { values } = parseArgs({ options: { "repo": { type: "string" }, "pr": { type: "string" }, "body-file": { type: "string" }, "help": { type: "boolean", short: "h" } } });
    if (values.help) {
        process.stdout.write(`${HELP}\n`);
        return 0;
    }
    if (!values.repo || !/^\d+$/.test(values.pr ?? "") || !values["body-file"]) throw new CliError("--repo, --pr <number> and --body-file are required (see --help)", 2);
    const { action, id } = upsertComment(values.repo, Number(values.pr), values["body-file"]);
    process.stdout.write(`${action} comment ${id} on ${values.repo}#${values.pr}\n`);
    return 0;
}

if (require.main === module) runCommand(main);
