DROP TABLE powers_of_attorney;
