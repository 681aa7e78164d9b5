DROP TABLE sharing_openings;
DROP TABLE sharing_restrictions;
