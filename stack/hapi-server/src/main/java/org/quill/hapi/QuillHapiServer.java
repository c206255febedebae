package org.quill.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.rest.server.RestfulServer;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

/**
 * HAPI FHIR's JPA server for FHIR R4, served at {@code /fhir} on an embedded Tomcat.
 *
 * <p>Spring Boot supplies the web server and the pooled data source; HAPI's own {@link
 * JpaR4Config} and {@link HapiJpaConfig} supply the DAOs, the search machinery, the paging
 * provider and the resource providers; batch2 (HAPI's job runner, used for reindexing and
 * deferred terminology work) runs on the in-memory channel of {@link SubscriptionChannelConfig}. Spring Boot's
 * JPA, Flyway, Quartz, Elasticsearch and Thymeleaf auto-configurations are switched off: HAPI builds its own
 * entity manager, scheduler and schema, as the HAPI FHIR starter image does.
 */
@SpringBootApplication(
		excludeName = {
			"org.springframework.boot.autoconfigure.orm.jpa.HibernateJpaAutoConfiguration",
			"org.springframework.boot.autoconfigure.data.jpa.JpaRepositoriesAutoConfiguration",
			"org.springframework.boot.autoconfigure.flyway.FlywayAutoConfiguration",
			"org.springframework.boot.autoconfigure.quartz.QuartzAutoConfiguration",
			"org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchClientAutoConfiguration",
			"org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchRestClientAutoConfiguration",
			"org.springframework.boot.autoconfigure.data.elasticsearch.ElasticsearchDataAutoConfiguration",
			"org.springframework.boot.autoconfigure.batch.BatchAutoConfiguration",
			"org.springframework.boot.autoconfigure.thymeleaf.ThymeleafAutoConfiguration"
		})
@Import({
	JpaR4Config.class,
	HapiJpaConfig.class,
	JpaBatch2Config.class,
	Batch2JobsConfig.class,
	SubscriptionChannelConfig.class,
	JpaServerConfig.class
})
public class QuillHapiServer {

	/** The FHIR base path; the server address is {@code http://<host>:<port>/fhir}. */
	static final String FHIR_PATH = "/fhir";

	public static void main(String[] args) {
		SpringApplication.run(QuillHapiServer.class, args);
	}

	/** Mount HAPI's servlet at {@code /fhir/*}, started with the application, not on first use. */
	@Bean
	public ServletRegistrationBean<RestfulServer> fhirServlet(RestfulServer restfulServer) {
		ServletRegistrationBean<RestfulServer> registration =
				new ServletRegistrationBean<>(restfulServer, FHIR_PATH + "/*");
		registration.setName("fhir");
		registration.setLoadOnStartup(1);
		return registration;
	}
}
