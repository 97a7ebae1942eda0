import CRMRPCContract
import CRMWire
import ServiceContract

/// The service module's survey-link methods, called as the web edge user
/// (`--survey-user`, a role with service.survey.respond only): a visitor
/// with a link has no session, and the link's signed token is the only
/// credential.
struct SurveysAPI: Sendable {
    let gateway: CRMGateway
    let user: String
    private static let service = "/crm.service.v1.Surveys/"

    func form(token: String) async throws -> Crm_Service_V1_SurveyForm {
        try await gateway.call(Self.service + "GetSurveyByToken", Crm_Service_V1_GetSurveyByTokenRequest.with { $0.token = token },
                               for: user, retryable: true)
    }

    func submit(token: String, answers: [Crm_Service_V1_SurveyAnswer]) async throws -> Crm_Service_V1_SurveyForm {
        try await gateway.call(Self.service + "SubmitSurveyAnswers", Crm_Service_V1_SubmitSurveyAnswersRequest.with {
            $0.token = token
            $0.answers = answers
        }, for: user)
    }
}
