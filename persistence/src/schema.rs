//! The diesel schema. Must match what `migrations/sqlite` and `migrations/postgres` produce;
//! `tests::schema_matches_migrations` in `db.rs` selects every column on both backends.

diesel::table! {
    citizens (id) {
        id -> Text,
        national_id -> Text,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        previous_login_at -> Nullable<Timestamp>,
        last_login_seq -> Nullable<BigInt>,
        previous_login_seq -> Nullable<BigInt>,
        terms_version -> Nullable<Text>,
        consent_level -> Nullable<Text>,
        consent_accepted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    terms_history (id) {
        id -> BigInt,
        citizen_id -> Text,
        action -> Text,
        terms_version -> Text,
        level -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    login_requests (state_hash) {
        state_hash -> Text,
        browser_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        acr_values -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        citizen_id -> Text,
        csrf_token -> Text,
        acr -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    usage_log (id) {
        id -> BigInt,
        subject_id -> Text,
        seq -> BigInt,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Text,
        action -> Text,
        details -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        subject_id -> Text,
        occurred_at -> Timestamp,
        payload -> Text,
    }
}

diesel::table! {
    register_persons (national_id) {
        national_id -> Text,
        given_name -> Text,
        family_name -> Text,
        birth_date -> Date,
        address_id -> Nullable<Text>,
        protection -> Nullable<Text>,
        deceased_on -> Nullable<Date>,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    register_parents (child_id, parent_id) {
        child_id -> Text,
        parent_id -> Text,
    }
}

diesel::joinable!(terms_history -> citizens (citizen_id));
diesel::joinable!(sessions -> citizens (citizen_id));
diesel::joinable!(usage_log -> citizens (subject_id));

diesel::allow_tables_to_appear_in_same_query!(
    citizens,
    terms_history,
    login_requests,
    sessions,
    usage_log,
    outbox,
    register_persons,
    register_parents,
);

diesel::table! {
    powers_of_attorney (id) {
        id -> Text,
        grantor_id -> Text,
        grantee_id -> Text,
        all_areas -> Bool,
        areas -> Text,
        created_at -> Timestamp,
        valid_until -> Nullable<Timestamp>,
        accepted_at -> Nullable<Timestamp>,
        ended_reason -> Nullable<Text>,
        ended_at -> Nullable<Timestamp>,
        ended_by -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (client_id, idempotency_key) {
        client_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status_code -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    access_switches (citizen_id) {
        citizen_id -> Text,
        services_removed_at -> Nullable<Timestamp>,
        patient_record_removed_at -> Nullable<Timestamp>,
        summary_care_record_removed_at -> Nullable<Timestamp>,
        services_changed_at -> Nullable<Timestamp>,
        patient_record_changed_at -> Nullable<Timestamp>,
        summary_care_record_changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    child_restrictions (id) {
        id -> Text,
        child_id -> Text,
        kind -> Text,
        areas -> Nullable<Text>,
        guardian_id -> Nullable<Text>,
        basis -> Text,
        author_hpr -> Text,
        author_org_number -> Text,
        author_org_name -> Text,
        client_id -> Text,
        registered_at -> Timestamp,
        lifted_at -> Nullable<Timestamp>,
        lift_basis -> Nullable<Text>,
        lifted_by_hpr -> Nullable<Text>,
        lifted_by_org_number -> Nullable<Text>,
        lifted_by_org_name -> Nullable<Text>,
    }
}

diesel::table! {
    summary_care_records (citizen_id) {
        citizen_id -> Text,
        state -> Text,
        record_started_at -> Nullable<Timestamp>,
        opted_out_at -> Nullable<Timestamp>,
        purge_ordered_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    summary_care_record_purges (citizen_id, opted_out_at) {
        citizen_id -> Text,
        opted_out_at -> Timestamp,
        ordered_at -> Timestamp,
        ordered_by -> Text,
    }
}

diesel::table! {
    sharing_restrictions (id) {
        id -> Text,
        citizen_id -> Text,
        seq -> BigInt,
        kind -> Text,
        target_kind -> Text,
        target -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        lifted_at -> Nullable<Timestamp>,
        lifted_by -> Nullable<Text>,
    }
}

diesel::table! {
    sharing_openings (id) {
        id -> Text,
        citizen_id -> Text,
        at -> Timestamp,
        kind -> Text,
        resource -> Text,
        parts -> Text,
        hpr_number -> Text,
        organisation_number -> Text,
        basis -> Text,
        stated_basis -> Nullable<Text>,
        client_id -> Text,
        log_seq -> BigInt,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        client_id -> Text,
        url -> Text,
        event_types -> Text,
        secret -> Text,
        created_at -> Timestamp,
        fanned_out_to -> BigInt,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_position -> BigInt,
        event_type -> Text,
        subject_id -> Text,
        event_occurred_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, attempt) {
        delivery_id -> Text,
        attempt -> Integer,
        at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(webhook_deliveries, webhook_endpoints);

diesel::table! {
    contact_details (citizen_id) {
        citizen_id -> Text,
        email -> Nullable<Text>,
        email_confirmed_at -> Nullable<Timestamp>,
        phone -> Nullable<Text>,
        language -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    email_confirmations (token_hash) {
        token_hash -> Text,
        citizen_id -> Text,
        email -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        citizen_id -> Text,
        kind -> Text,
        language -> Text,
        recipient -> Nullable<Text>,
        facts -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        occasion -> Text,
    }
}

diesel::table! {
    data_requests (id) {
        id -> Text,
        subject_id -> Text,
        filed_by -> Text,
        kind -> Text,
        text -> Text,
        categories -> Text,
        received_at -> Timestamp,
        acknowledged_at -> Nullable<Timestamp>,
        extended_at -> Nullable<Timestamp>,
        extension_reason -> Nullable<Text>,
        deadline -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        outcome_detail -> Nullable<Text>,
        handled_by -> Nullable<Text>,
    }
}

diesel::table! {
    usage_log_anchors (subject_id) {
        subject_id -> Text,
        seq -> BigInt,
        hash -> Text,
        cut_at -> Timestamp,
    }
}

diesel::table! {
    register_imports (id) {
        id -> BigInt,
        imported_at -> Timestamp,
        added -> BigInt,
        changed -> BigInt,
        removed -> BigInt,
    }
}

diesel::table! {
    /// A view (migration 000013): the newest outbox position and register import, in one row.
    decision_watermark (outbox_position) {
        outbox_position -> BigInt,
        register_import -> BigInt,
    }
}
