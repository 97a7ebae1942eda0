import CRMPluginKit

/// The survey tables (migration 11).
///
/// - `service_surveys`: definitions; the Survey message (teams, questions,
///   email text) as bytes, with the two columns the solve's choice reads.
/// - `service_survey_teams`: which survey a team uses (the solve looks up
///   its team here, one seek).
/// - `service_survey_invitations`: one row per solve that invited; the
///   questions asked are copied in (`questions`, Survey bytes), so a later
///   edit of the survey never changes what an earlier answer meant.
///   Indexed for the ticket's and requester's lists, the dispatch job
///   (`dispatch, id`), the results (`created_us`) and the cool-down.
/// - `service_survey_answers`: one row per answered question, with the
///   time the answer last changed (free-text comments are a range of
///   `service_survey_answers_text`).
/// - `service_survey_keys`: the token secret, made by SQLite's CSPRNG when
///   the table is created, so any call can sign from the start.
enum SurveySchema {
    static func register(on def: PluginDefinition) {
        def.migration(11, "surveys", """
            CREATE TABLE service_surveys (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                is_default INTEGER NOT NULL,
                active INTEGER NOT NULL,
                details BLOB NOT NULL,
                version INTEGER NOT NULL,
                created_us INTEGER NOT NULL,
                updated_us INTEGER NOT NULL);
            CREATE INDEX service_surveys_default ON service_surveys (active, is_default, id);
            CREATE TABLE service_survey_teams (
                team TEXT NOT NULL,
                survey_id INTEGER NOT NULL REFERENCES service_surveys (id),
                PRIMARY KEY (team, survey_id)) WITHOUT ROWID;
            CREATE TABLE service_survey_invitations (
                id INTEGER PRIMARY KEY,
                ticket_id INTEGER NOT NULL REFERENCES service_tickets (id),
                survey_id INTEGER NOT NULL REFERENCES service_surveys (id),
                survey_version INTEGER NOT NULL,
                requester_id INTEGER NOT NULL,
                organization_id INTEGER NOT NULL,
                agent TEXT NOT NULL,
                team TEXT NOT NULL,
                sla_outcome INTEGER NOT NULL,
                dispatch INTEGER NOT NULL,
                delivery_id INTEGER NOT NULL,
                link_only_reason TEXT NOT NULL,
                questions BLOB NOT NULL,
                created_us INTEGER NOT NULL,
                dispatched_us INTEGER NOT NULL,
                expires_us INTEGER NOT NULL,
                answered_us INTEGER NOT NULL,
                changed_us INTEGER NOT NULL,
                erased INTEGER NOT NULL);
            CREATE INDEX service_survey_invitations_ticket ON service_survey_invitations (ticket_id, id);
            CREATE INDEX service_survey_invitations_requester ON service_survey_invitations (requester_id, id);
            CREATE INDEX service_survey_invitations_dispatch ON service_survey_invitations (dispatch, id);
            CREATE INDEX service_survey_invitations_created ON service_survey_invitations (created_us, id);
            CREATE TABLE service_survey_answers (
                invitation_id INTEGER NOT NULL REFERENCES service_survey_invitations (id),
                question_key TEXT NOT NULL,
                kind INTEGER NOT NULL,
                score INTEGER NOT NULL,
                text TEXT NOT NULL,
                changed_us INTEGER NOT NULL,
                PRIMARY KEY (invitation_id, question_key)) WITHOUT ROWID;
            CREATE INDEX service_survey_answers_text ON service_survey_answers (kind, changed_us, invitation_id, question_key);
            CREATE TABLE service_survey_keys (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);
            INSERT INTO service_survey_keys (id, secret) VALUES (1, randomblob(32));
            """)
    }
}
