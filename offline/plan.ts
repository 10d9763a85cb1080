// npm run plan: what a config change would do, resource by resource and field by field.
import { CliError, evaluateStack, maskSecrets, parseCommandLine, routingLines, runCommand, stackConfig } from "./cli";
import { formatPlan, planChanges, unexpectedChanges } from "./diff";

const HELP = `Usage: npm run plan -- --config key=value [options]

Evaluates the stack twice under Pulumi's mock engine, as configured and with the overrides, and
prints what would change, in the style of 'pulumi preview --diff', grouped into levels in the
order the engine reaches them (a Deployment that will receive traffic is ready before the route
moves; a color that loses traffic changes after it). It cannot tell a replacement from an
update (no provider is asked): changes this package knows force a replacement (GKE cluster and
node-pool immutables, Deployment selectors, Service clusterIP, object names) are marked
"(forces replacement)"; any other update may still be one, and 'pulumi preview --diff' decides.
For a color switch:
  npm run plan -- --config activeColor=green --expect-only VirtualService

Options:
  --stack <name>          stack: Pulumi.yaml defaults + Pulumi.<name>.yaml (default: dev)
  --config key=value      the change to plan, as 'pulumi config set' would make it (repeatable)
  --expect-only <type>    fail (exit 1) when a resource of any other type would change;
                          a short kind (VirtualService) or a full type token
  -h, --help              show this help

Exit codes: 0 planned (whatever it shows); 1 bad configuration or --expect-only violated; 2 usage error.`;

async function main(): Promise<number> {
    const options = parseCommandLine(process.argv.slice(2), ["expect-only"] as const);
    if (options.help) {
        process.stdout.write(`${HELP}\n`);
        return 0;
    }
    const current = await evaluateStack(options.stack, stackConfig(options.stack, {}));
    const proposed = await evaluateStack(options.stack, stackConfig(options.stack, options.overrides));
    const plan = planChanges(current.resources, proposed.resources);
    const change = Object.entries(options.overrides).map(([k, v]) => `${k}=${v}`).join(" ") || "(no overrides)";

    process.stdout.write(maskSecrets([
        `Plan for stack ${options.stack}: ${change}`,
        "",
        formatPlan(plan),
        "",
        "Routing after the change:",
        ...routingLines(proposed.resources).map((l) => `  ${l}`),
        "",
    ].join("\n")));

    const allowed = options["expect-only"];
    if (allowed !== undefined) {
        const unexpected = unexpectedChanges(plan, allowed);
        if (unexpected.length > 0) {
            throw new CliError(`--expect-only ${allowed}: ${unexpected.length} other resource(s) would change: ` +
                unexpected.map((r) => `${r.type} ${r.name}`).join(", "));
        }
        process.stdout.write(`Only ${allowed} resources change.\n`);
    }
    return 0;
}

runCommand(main);
