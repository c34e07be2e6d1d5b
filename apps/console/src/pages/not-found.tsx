import { Link } from 'react-router';
import { useTitle } from '../use-title.js';

/** A path the console does not have. */
export function NotFoundPage() {
  useTitle('Not found');
  return (
    <div className="page card narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing here. <Link to="/chat">Go to your conversations</Link>.
      </p>
    </div>
  );
}
