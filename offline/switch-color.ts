// npm run switch-color: sets activeColor in a stack file the way a reviewer would edit it, keeping
// its comments, quoting and order (the switch workflow commits the result to main).
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { isMap, isScalar, parseDocument } from "yaml";
import { COLORS } from "../components/routing";
import { CliError, runCommand } from "./cli";
import { PROJECT_ROOT, projectName } from "./stack-files";

/**
 * Sets `<project>:activeColor` (or the bare `activeColor` key, if the file uses it) in
 * Pulumi.<stack>.yaml under `root`. Returns the value before, undefined when unset.
 */
export function setActiveColor(root: string, stack: string, color: string): { before?: string; changed: boolean } {
    if (!(COLORS as readonly string[]).includes(color)) throw new CliError(`--color ${JSON.stringify(color)}: allowed values: ${COLORS.join(", ")}`, 2);
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new CliError(`no stack "${stack}": ${path.basename(file)} does not exist`);
    const text = fs.readFileSync(file, "utf8");
    const document = parseDocument(text);
    if (document.errors.length > 0) throw new CliError(`${path.basename(file)}: ${document.errors[0].message}`);
    const qualified = `${projectName(root)}:activeColor`;
    let config = document.get("config");
    if (config === undefined) {
        document.set("config", document.createNode({}));
        config = document.get("config");
    }
    if (!isMap(config)) throw new CliError(`${path.basename(file)}: "config:" is not a mapping`);
    const key = config.has("activeColor") && !config.has(qualified) ? "activeColor" : qualified;
    const node = config.get(key, true);
    const before = node === undefined ? undefined : String(isScalar(node) ? node.value : node);
    if (before === color) return { before, changed: false };
    config.set(key, color); // on an existing scalar, yaml sets its value: the comment and quoting stay
    fs.writeFileSync(file, document.toString());
    return { before, changed: true };
}

async function main(): Promise<number> {
    const { values } = parseArgs({ options: { stack: { type: "string", default: "dev" }, color: { type: "string" } } });
    if (!values.color) throw new CliError("--color is required: blue or green", 2);
    const { before, changed } = setActiveColor(PROJECT_ROOT, values.stack!, values.color);
    process.stdout.write(changed ? `Pulumi.${values.stack}.yaml: activeColor ${before ?? "(default)"} -> ${values.color}\n` : `Pulumi.${values.stack}.yaml: activeColor is already ${values.color}\n`);
    return 0;
}

if (require.main === module) runCommand(main);
