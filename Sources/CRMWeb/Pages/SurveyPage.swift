import ServiceContract

/// The page a survey link opens: the questions, with the answers given so
/// far, and the thanks after a submission. No session: the link's token
/// rides in a hidden field.
enum SurveyPage {
    static func form(_ form: Crm_Service_V1_SurveyForm, token: String, error: String? = nil) -> String {
        let given = Dictionary(form.answers.map { ($0.questionKey, $0) }, uniquingKeysWith: { first, _ in first })
        var body = """
            <h1 id="survey-title">\(HTML.esc(form.surveyName))</h1>
            <p class="survey-ticket">About your request #\(form.ticketID): \(HTML.esc(form.ticketSubject))</p>
            """
        if let error { body += "<p class=\"field-error\" id=\"survey-error\">\(HTML.esc(error))</p>" }
        body += "<form method=\"post\" action=\"/service/survey\" id=\"survey\">"
        body += "<input type=\"hidden\" name=\"t\" value=\"\(HTML.esc(token))\">"
        for q in form.questions {
            let name = "q_" + q.key
            let prompt = HTML.esc(q.prompt) + (q.required ? " <span class=\"required\">*</span>" : "")
            switch q.kind {
            case .csat, .ces:
                let top = q.kind == .csat ? 5 : 7
                let chosen = given[q.key]?.score ?? 0
                body += "<fieldset class=\"scale\" id=\"\(HTML.esc(name))\"><legend>\(prompt)</legend>"
                for score in 1...top {
                    let checked = Int(chosen) == score ? " checked" : ""
                    body += """
                        <label><input type="radio" name="\(HTML.esc(name))" value="\(score)"\(checked)> \(score)</label>
                        """
                }
                body += "</fieldset>"
            default:
                body += """
                    <label for="\(HTML.esc(name))">\(prompt)</label>
                    <textarea id="\(HTML.esc(name))" name="\(HTML.esc(name))" maxlength="2000" rows="4">\
                    \(HTML.esc(given[q.key]?.text ?? ""))</textarea>
                    """
            }
        }
        body += "<button type=\"submit\" id=\"survey-submit\">Send</button></form>"
        if form.expiresUnixUs > 0 { body += "<p class=\"detail\">You can change your answers until \(HTML.time(form.expiresUnixUs)).</p>" }
        return HTML.page(title: form.surveyName, session: nil, body: body)
    }

    static func thanks(_ form: Crm_Service_V1_SurveyForm, token: String) -> String {
        HTML.page(title: "Thank you", session: nil, body: """
            <h1 id="survey-thanks">Thank you</h1>
            <p>Your answers about request #\(form.ticketID) are recorded.</p>
            <p><a href="/service/survey?t=\(HTML.esc(token))">Change them</a></p>
            """)
    }
}
