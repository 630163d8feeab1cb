// Allure 3 (npm `allure`, no Java) settings for `make report`: the report reads by area
// (feature label) and tenant, as the SRE triaging a nightly run thinks about it.
//
// singleFile: the awesome plugin inlines its data into reports/html/index.html
// (@allurereport/plugin-awesome dist/plugin.js, dist/generators.js), so the report renders when
// opened from disk or downloaded as a CI artifact; the multi-file variant fetches its data files,
// which browsers refuse on file://. The same file served over HTTP renders too.
//
// History: the suite appends every run to reports/history.jsonl itself (--history, Allure 3's
// history format); `make report` hands Allure the runs before the rendered one
// (ossm_conformance.reporting.history_for_report), and Allure must not append a second point.
import { defineConfig } from "allure";

export default defineConfig({
  name: "ossm-conformance",
  output: "./reports/html",
  historyPath: process.env.OSSM_REPORT_HISTORY ?? "./reports/.history-before-run.jsonl",
  appendHistory: false,
  plugins: {
    awesome: {
      options: {
        reportName: "ossm-conformance — OpenShift Service Mesh 3 ambient",
        groupBy: ["feature", "tenant"],
        singleFile: true,
      },
    },
  },
});
