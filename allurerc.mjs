// Allure 3 (npm `allure`, no Java) settings for `make report`: the report reads by area
// (feature label) and tenant, as the SRE triaging a nightly run thinks about it.
import { defineConfig } from "allure";

export default defineConfig({
  name: "ossm-conformance",
  output: "./reports/html",
  plugins: {
    awesome: {
      options: {
        reportName: "ossm-conformance — OpenShift Service Mesh 3 ambient",
        groupBy: ["feature", "tenant"],
        singleFile: false,
      },
    },
  },
});
