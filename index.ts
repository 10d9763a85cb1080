// The Pulumi program: reads the stack configuration and composes the components.
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenEnvironment } from "./components";
import { readStackConfigFromAll } from "./components/stack-config";

export = async () => {
    // Validates every setting before any resource is declared. Every key set for the stack is
    // read, so a misspelt one (activeColour) is refused instead of silently ignored.
    const { environment } = readStackConfigFromAll(pulumi.runtime.allConfig(), pulumi.getProject(), pulumi.getStack());
    const env = new BlueGreenEnvironment("bluegreen", environment);

    return {
        clusterName: env.clusterName,
        kubeconfig: env.kubeconfig,
        ingressAddress: env.ingressAddress,
        istioVersion: env.istioVersion,
        activeColor: env.activeColor,
        idleColor: env.idleColor,
        curlCommands: env.curlCommands,
    };
};
