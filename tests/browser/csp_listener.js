// Loaded into every page by the browser tests (test harness, not part of the product):
// every Content-Security-Policy violation is written to the console with a fixed prefix,
// so the test collects them across navigations and fails on any.
document.addEventListener("securitypolicyviolation", function (event) {
  console.error(
    "CSP-VIOLATION " +
      JSON.stringify({
        directive: event.violatedDirective,
        blocked: event.blockedURI,
        source: event.sourceFile,
        line: event.lineNumber,
        sample: event.sample,
        page: document.location.pathname,
        element:
          event.target && event.target.outerHTML ? event.target.outerHTML.slice(0, 160) : "",
      })
  );
});
