// The Pulumi program: reads the stack configuration and composes the components.
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenEnvironment } from "./components";
import { readStackConfigFromAll } from "./components/stack-config";

export = async () => {
    // Validates every setting before any resource is declared. Every key set for the stack is
    // read, so a misspelt one (activeColour) is refused instead of silently ignored.
    const { environment, warnings } = readStackConfigFromAll(pulumi.runtime.allConfig(), pulumi.getProject(), pulumi.getStack());
    // Values no dated list knows (a newer Istio patch, a new region): accepted, and said so.
    for (const w of warnings) pulumi.log.warn(`${w.setting}: ${w.message}`);
    const env = new BlueGreenEnvironment("bluegreen", environment);

    return {
        clusterName: env.clusterName,
        kubeconfig: env.kubeconfig,
        ingressAddress: env.ingressAddress,
        istioVersion: env.istioVersion,
        activeColor: env.activeColor,
        idleColor: env.idleColor,
        curlCommands: env.curlCommands,
        dashboardUrl: env.dashboardUrl,
    };
};
