// Container healthcheck for HAPI FHIR (hapiproject/hapi), whose distroless image has no shell,
// curl or wget: only a Java runtime, which cannot compile source (no jdk.compiler). This class is
// compiled ahead (`make docker/hapi/HapiHealthCheck.class`, javac --release 17, java.base only),
// mounted read-only into the container and run by the image's own java:
//
//   java -cp /opt/quill/healthcheck HapiHealthCheck [base URL, default http://127.0.0.1:8080/fhir]
//
// Exit status 0 when GET {base}/metadata answers 200 with a CapabilityStatement, 1 otherwise
// (while HAPI is still starting or migrating its schema it does not answer, or answers 5xx).

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

public final class HapiHealthCheck {
    static final String DEFAULT_BASE = "http://127.0.0.1:8080/fhir";
    static final int CONNECT_TIMEOUT_MS = 3000;
    static final int READ_TIMEOUT_MS = 15000;
    // resourceType is the first key HAPI writes; the rest of the statement is not needed.
    static final int MAX_BYTES = 64 * 1024;
    static final Pattern CAPABILITY_STATEMENT =
            Pattern.compile("\"resourceType\"\\s*:\\s*\"CapabilityStatement\"");

    private HapiHealthCheck() {}

    public static void main(String[] args) {
        String base = args.length > 0 ? args[0] : DEFAULT_BASE;
        String url = base.replaceAll("/+$", "") + "/metadata";
        try {
            String problem = check(url);
            if (problem != null) {
                System.err.println("HAPI FHIR not healthy: " + problem);
                System.exit(1);
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("HAPI FHIR not healthy: " + e);
            System.exit(1);
        }
        System.exit(0);
    }

    /** Null when healthy, otherwise what is wrong. */
    static String check(String url) throws IOException {
        HttpURLConnection connection = (HttpURLConnection) new URL(url).openConnection();
        connection.setRequestMethod("GET");
        connection.setRequestProperty("Accept", "application/fhir+json");
        connection.setConnectTimeout(CONNECT_TIMEOUT_MS);
        connection.setReadTimeout(READ_TIMEOUT_MS);
        connection.setInstanceFollowRedirects(false);
        try {
            int status = connection.getResponseCode();
            if (status != 200) {
                return url + " answered HTTP " + status;
            }
            String head;
            try (InputStream body = connection.getInputStream()) {
                head = new String(body.readNBytes(MAX_BYTES), StandardCharsets.UTF_8);
            }
            if (!CAPABILITY_STATEMENT.matcher(head).find()) {
                return url + " did not answer with a CapabilityStatement";
            }
            return null;
        } finally {
            connection.disconnect();
        }
    }
}
