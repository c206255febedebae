package quill.stack;

import org.ehrbase.configuration.EhrBaseServerConfiguration;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Import;

/**
 * Starts EHRbase's own server configuration (REST API, services, AQL engine) as a Spring Boot
 * application. Settings come from EHRbase's application.yml and the environment, as in its
 * Docker image (profile "docker": DB_URL, DB_USER, DB_PASS, DB_USER_ADMIN, DB_PASS_ADMIN).
 */
@SpringBootApplication(scanBasePackages = "quill.stack.ehrbase")
@Import(EhrBaseServerConfiguration.class)
public class EhrbaseServer {
    public static void main(String[] args) {
        SpringApplication.run(EhrbaseServer.class, args);
    }
}
