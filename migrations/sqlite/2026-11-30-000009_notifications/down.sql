DROP TABLE notifications;
DROP TABLE email_confirmations;
DROP TABLE contact_details;
