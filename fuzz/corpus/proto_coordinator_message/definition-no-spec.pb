
job-2