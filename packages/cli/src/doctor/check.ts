/** One line of the doctor's checklist. */
export interface Check {
  id: string;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  detail: string;
  fix?: string;
  causes?: string[];
}
