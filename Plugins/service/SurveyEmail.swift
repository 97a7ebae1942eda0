import CRMPluginKit
import ServiceContract

/// The invitation email: the survey's subject and intro (or defaults), the
/// ticket's subject and the link, as text and as escaped HTML.
enum SurveyEmail {
    struct Rendered { var subject: String; var html: String; var text: String }

    static func render(_ ctx: CallContext, _ db: Database, _ i: SurveyInvitation) throws -> Rendered {
        let survey = try SurveyDefinitions.load(db, i.surveyID) ?? Survey()
        let ticketSubject = try TicketStore(db: db).load(i.ticketID)?.subject ?? ""
        let link = "\(SurveyConfig.url(ctx.host))?t=\(SurveyTokens.make(try SurveyTokens.secret(db), invitation: i.id))"
        let subject = survey.emailSubject.isEmpty ? "How did we do? (ticket #\(i.ticketID))" : survey.emailSubject
        let intro = survey.emailIntro.isEmpty
            ? "Your request \"\(ticketSubject.prefix(200))\" (ticket #\(i.ticketID)) was solved. Please tell us how we did."
            : survey.emailIntro
        let text = "\(intro)\n\n\(link)\n"
        let paragraphs = intro.split(separator: "\n", omittingEmptySubsequences: false)
            .map { HTMLText.escape(String($0)) }.joined(separator: "<br>")
        let href = HTMLText.escape(link)
        let html = "<html><body><p>\(paragraphs)</p><p><a href=\"\(href)\">\(href)</a></p></body></html>"
        return Rendered(subject: subject, html: html, text: text)
    }
}
